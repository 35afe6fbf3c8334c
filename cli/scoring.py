"""路演评审: set-rubric, import-scores, ranking (services/scoring.py does the work)."""
import sys

import click
from flask.cli import with_appcontext

from cli import audit, fail
from db import get_store
from services import scoring
from services.orgs import org_index


def _errors_text(errors):
    """Refusals by CSV line (0: the whole file), in line order."""
    return "\n".join(f"第 {line} 行: {reason}" if line else reason
                     for line, reason in sorted(errors.items(), key=lambda kv: kv[0] or 0))


@click.command("set-rubric")
@click.argument("year", type=int)
@click.argument("file", type=click.File("r", encoding="utf-8-sig"), required=False)
@click.option("--default", "use_default", is_flag=True,
              help="Use the default rubric (选题精准 20, 推进实效 40, 示范效应 20, 群众满意 20).")
@with_appcontext
def set_rubric(year, file, use_default):
    """Set YEAR's 路演评审 rubric from FILE (one criterion per line: "名称 最高分 [权重]";
    "-" reads stdin) or --default. Refused when scores already given would not fit it."""
    if use_default == (file is not None):
        fail("请给出评分标准文件，或使用 --default(二选一)")
    try:
        criteria = scoring.DEFAULT_RUBRIC if use_default else scoring.parse_rubric(file.read())
        doc = scoring.save_rubric(get_store(), year, criteria, None)
    except scoring.ScoreError as exc:
        fail(str(exc))
    audit("rubric.save", target=str(year), detail={"criteria": len(doc["criteria"])})
    click.echo(f"{year} 年评分标准已保存: " + "、".join(
        f"{c['name']}(满分 {c['max']}, 权重 {c['weight']})" for c in doc["criteria"]))


@click.command("import-scores")
@click.argument("year", type=int)
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@with_appcontext
def import_scores(year, file):
    """Import judges' paper score sheets into YEAR from a CSV with the columns project (its
    number, or its title when unique), judge, criterion, score (Chinese headers 项目, 评委,
    评分项, 分数 also read; UTF-8 or GBK). Every row is checked first: any refused row is
    printed with its line number and nothing is imported."""
    with open(file, "rb") as fh:
        data = fh.read()
    try:
        count = scoring.import_scores(get_store(), year, data)
    except scoring.ScoreErrors as exc:
        click.echo(_errors_text(exc.errors), err=True)
        fail(f"共 {len(exc.errors)} 处错误，未导入任何评分")
    audit("score.import", target=str(year), detail={"rows": count})
    click.echo(f"已导入 {count} 条评分({year} 年)")


@click.command("ranking")
@click.argument("year", type=int)
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV (UTF-8) instead of a text table.")
@with_appcontext
def ranking(year, as_csv):
    """Print YEAR's 路演评审 ranking as /admin/ranking shows it: per category, rank (ties
    marked 并列), mean per criterion, weighted total, 优秀, bottom 5%, bottom two years."""
    store = get_store()
    result = scoring.year_ranking(store, year)
    headers, rows = scoring.ranking_table(result, org_index(store))
    if as_csv:
        sys.stdout.write(scoring.ranking_csv(headers, rows))
        return
    if result.rubric is None:
        click.echo(f"{year} 年尚未设置评分标准", err=True)
    if not rows:
        click.echo(f"{year} 年没有已立项的项目")
        return
    click.echo(format_table(headers, rows))
    click.echo("")
    click.echo(scoring.BOTTOM_RULE)
    for title, orgs in (("连续两年末位 5% 的组织", result.bottom_two_years),
                        ("软弱涣散整顿名单(书记领办事项连续两年无明显成效)",
                         result.no_effect_two_years)):
        index = org_index(store)
        names = ["/".join(index.path(code)[1:]) or code for code in sorted(orgs)]
        click.echo(f"{title}: {'、'.join(names) if names else '无'}")


def _width(text):
    """Display width: CJK characters take two columns."""
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def format_table(headers, rows):
    cells = [[str(h) for h in headers]] + [["" if v is None else str(v) for v in row]
                                           for row in rows]
    widths = [max(_width(row[i]) for row in cells) for i in range(len(headers))]
    return "\n".join("  ".join(cell + " " * (widths[i] - _width(cell))
                               for i, cell in enumerate(row)).rstrip() for row in cells)


COMMANDS = (set_rubric, import_scores, ranking)
