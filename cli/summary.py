"""The county 汇总表: summary (services/summary.py writes it, as for the page)."""
import click
from flask.cli import with_appcontext
from xlsxwriter.exceptions import FileCreateError

from cli import audit, fail
from db import get_store
from services import summary as summary_service
from services.orgs import org_index
from services.reporting import today_local


@click.command("summary")
@click.argument("year", type=int)
@click.option("--out", type=click.Path(dir_okay=False, writable=True),
              help="The workbook to write (default: 汇总表-YEAR.xlsx here).")
@click.option("--township", help="Only this township (code) and the organizations under it.")
@with_appcontext
def summary(year, out, township):
    """Write YEAR's 汇总表 as /admin/summary.xlsx gives it: the summary by township, 领域 and
    status, the monthly reporting rates, the 路演评审 ranking and one sheet of projects per
    township (县直单位 on their own) — the whole county, or one township with --township."""
    if not 2000 <= year <= 2100:
        fail("年份应在 2000 到 2100 之间")
    store = get_store()
    index = org_index(store)
    if township and township not in index:
        fail(f"组织 {township} 不存在")
    org_codes = index.below(township) if township else None
    out = out or f"汇总表-{index.get(township)['name'] + '-' if township else ''}{year}.xlsx"
    try:
        written = summary_service.summary_workbook(store, year, org_codes, today_local(), out,
                                                   index=index)
    except (OSError, FileCreateError) as exc:
        fail(f"无法写入 {out}: {exc}")
    audit("export", target="汇总表", detail={"kind": "汇总表", "year": year,
                                           "projects": written["projects"],
                                           "filters": {"township": township} if township else {}})
    click.echo(f"已写入 {out}: {written['projects']} 个项目，{len(written['sheets'])} 张工作表"
               f"（{'、'.join(written['sheets'])}）")


COMMANDS = (summary,)
