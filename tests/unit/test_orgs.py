"""orgs.py: CSV import parsing/validation (every error kind, with its row) and tree helpers."""
import pytest

from services import orgs
from services.orgs import OrgImportError, parse_orgs_csv

HEADER = "code,name,parent_code,kind\n"
GOOD = (HEADER
        + "YX,岳西县,,county\n"
        + "XC,响肠镇,YX,township\n"
        + "XC-QFT,千佛塔村,XC,village\n"
        + "CZJ,财政局,YX,unit\n"
        + "XC_ZX,响肠镇中心学校,XC,unit\n")

EXPECTED = [
    {"code": "YX", "name": "岳西县", "parent_code": None, "kind": "county"},
    {"code": "XC", "name": "响肠镇", "parent_code": "YX", "kind": "township"},
    {"code": "XC-QFT", "name": "千佛塔村", "parent_code": "XC", "kind": "village"},
    {"code": "CZJ", "name": "财政局", "parent_code": "YX", "kind": "unit"},
    {"code": "XC_ZX", "name": "响肠镇中心学校", "parent_code": "XC", "kind": "unit"},
]

EXISTING = [
    {"code": "YX", "name": "岳西县", "parent_code": None, "kind": "county"},
    {"code": "BM", "name": "白帽镇", "parent_code": "YX", "kind": "township"},
    {"code": "BM-SC", "name": "深村村", "parent_code": "BM", "kind": "village"},
]


def errors_of(text, existing=(), encoding="utf-8"):
    with pytest.raises(OrgImportError) as info:
        parse_orgs_csv(text.encode(encoding) if isinstance(text, str) else text, existing)
    return info.value.errors


# ---------------------------------------------------------------- good files

@pytest.mark.parametrize("transform", [
    lambda t: t.encode("utf-8"),
    lambda t: t.encode("utf-8-sig"),                            # Excel "CSV UTF-8" adds a BOM
    lambda t: t.replace("\n", "\r\n").encode("utf-8-sig"),      # and CRLF line ends
    lambda t: t.replace("\n", "\r\n").encode("utf-8"),
    lambda t: (t.rstrip("\n")).encode("utf-8"),                 # no final newline
], ids=["plain", "bom", "bom-crlf", "crlf", "no-final-newline"])
def test_parse_good_file(transform):
    assert parse_orgs_csv(transform(GOOD), []) == EXPECTED


def test_header_is_trimmed_case_insensitive_any_order_extra_columns_ignored():
    text = (" Kind ,备注, NAME ,Parent_Code,CODE\n"
            "county,县委,岳西县,,YX\n"
            "township,,响肠镇,YX,XC\n")
    assert parse_orgs_csv(text.encode("utf-8-sig"), []) == EXPECTED[:2]


def test_values_trimmed_blank_lines_skipped_and_chinese_kinds_accepted():
    text = (HEADER
            + " YX , 岳西县 ,  , 县 \n"
            + "\n"
            + ",,,\n"
            + "XC,响肠镇,YX,乡镇\n"
            + "XC-QFT,千佛塔村,XC,村\n"
            + "CZJ,财政局,YX,县直单位\n"
            + "XC_ZX,响肠镇中心学校,XC,单位\n")
    assert parse_orgs_csv(text.encode("utf-8"), []) == EXPECTED


def test_quoted_name_with_comma():
    text = HEADER + 'YX,"岳西县(含开发区,示范园)",,county\n'
    assert parse_orgs_csv(text.encode("utf-8"), [])[0]["name"] == "岳西县(含开发区,示范园)"


def test_parents_may_come_later_in_file_or_from_existing():
    text = (HEADER
            + "BM-NEW,新村,BM,village\n"        # parent exists only in the database
            + "TS-V,天堂村,TS,village\n"        # parent defined further down the file
            + "TS,天堂镇,YX,township\n")
    rows = parse_orgs_csv(text.encode("utf-8"), EXISTING)
    assert [r["code"] for r in rows] == ["BM-NEW", "TS-V", "TS"]
    assert rows[0]["parent_code"] == "BM"


def test_file_row_replaces_existing_org_of_same_code():
    text = HEADER + "BM,白帽镇(新名),YX,township\n"
    assert parse_orgs_csv(text.encode("utf-8"), EXISTING) == [
        {"code": "BM", "name": "白帽镇(新名)", "parent_code": "YX", "kind": "township"}]


def test_existing_may_be_a_dict_by_code():
    text = HEADER + "BM-NEW,新村,BM,village\n"
    assert parse_orgs_csv(text.encode("utf-8"), {o["code"]: o for o in EXISTING})


# ---------------------------------------------------------------- file-level errors

@pytest.mark.parametrize("data", [b"", b"\xef\xbb\xbf", b"  \r\n\n", b",,,\n,,\n"])
def test_empty_file(data):
    assert errors_of(data) == [(0, "文件为空")]


def test_header_only():
    assert errors_of(HEADER) == [(0, "文件中没有组织数据(只有表头)")]


def test_gbk_file_is_rejected_with_a_clear_message():
    errors = errors_of(GOOD, encoding="gbk")
    assert errors == [(0, orgs.NOT_UTF8)]
    assert "UTF-8" in errors[0][1] and "另存为" in errors[0][1]


def test_missing_header_columns():
    [(row, reason)] = errors_of("code,name,kind\nYX,岳西县,county\n")
    assert row == 1 and "parent_code" in reason and "缺少" in reason


def test_data_without_header():
    [(row, reason)] = errors_of("YX,岳西县,,county\n")
    assert row == 1 and "表头缺少列" in reason


def test_duplicate_header_column():
    [(row, reason)] = errors_of("code,name,parent_code,kind,Name\nYX,岳西县,,county,x\n")
    assert row == 1 and "重复" in reason and "name" in reason


def test_control_characters_in_a_name_are_rejected():
    assert errors_of(HEADER + "YX,岳\x00西县,,county\n") == [(2, "名称不能包含换行或控制字符")]


def test_malformed_csv_is_an_error_with_its_row_not_a_crash():
    text = HEADER + "YX,岳西县,,county\n" + 'XC,"' + "长" * 200_000 + '",YX,township\n'
    [(row, reason)] = errors_of(text)
    assert row == 3 and reason.startswith("CSV 格式错误")


# ---------------------------------------------------------------- row errors

def one_error(body, existing=(), expect_row=2):
    errors = errors_of(HEADER + body, existing)
    assert len(errors) == 1, errors
    row, reason = errors[0]
    assert row == expect_row
    return reason


def test_row_errors_each_kind():
    assert "编码不能为空" in one_error(",岳西县,,county\n")
    assert "无效" in one_error("Y X,岳西县,,county\n")
    assert "无效" in one_error("岳西,岳西县,,county\n")
    assert "无效" in one_error("-YX,岳西县,,county\n")
    assert "无效" in one_error("A" * 33 + ",岳西县,,county\n")
    assert "名称不能为空" in one_error("YX, ,,county\n")
    assert "最多 60" in one_error("YX," + "岳" * 61 + ",,county\n")
    assert "换行" in one_error('YX,"岳西\n县",,county\n', expect_row=2)
    assert "= + - @" in one_error("YX,=HYPERLINK(1),,county\n")
    assert "类型不能为空" in one_error("YX,岳西县,,\n")
    assert "类型「city」无效" in one_error("YX,岳西县,,city\n")
    assert "县级组织不能有上级" in one_error("AQ,安庆市,BM,county\n", EXISTING)
    assert "必须填写上级编码" in one_error("XC,响肠镇,,township\n")
    assert "上级编码 NOPE 不存在" in one_error("XC,响肠镇,NOPE,township\n")
    assert "不能是自己" in one_error("XC,响肠镇,XC,township\n")
    assert "列数多于表头" in one_error("YX,岳西县,,county,extra\n")


def test_name_of_exactly_60_and_code_of_32_are_fine():
    rows = parse_orgs_csv((HEADER + "A" * 32 + "," + "岳" * 60 + ",,county\n").encode(), [])
    assert rows[0]["code"] == "A" * 32 and len(rows[0]["name"]) == 60


@pytest.mark.parametrize("body, reason", [
    ("YX,岳西县,,county\nV,村,YX,village\n", "村的上级必须是乡镇,而 YX(岳西县)是县"),
    ("YX,岳西县,,county\nT,镇,YX,township\nT2,镇二,T,township\n", "乡镇的上级必须是县"),
    ("YX,岳西县,,county\nT,镇,YX,township\nV,村,T,village\nU,单位,V,unit\n",
     "县直单位的上级必须是县或乡镇"),
])
def test_kind_hierarchy(body, reason):
    errors = errors_of(HEADER + body)
    assert len(errors) == 1
    assert reason in errors[0][1]
    assert errors[0][0] == body.count("\n") + 1  # the last row is the bad one


def test_duplicate_code_names_the_first_row():
    errors = errors_of(HEADER + "YX,岳西县,,county\nXC,响肠镇,YX,township\nXC,另一个,YX,township\n")
    assert errors == [(4, "编码 XC 与第 3 行重复")]


def test_cycle_is_reported_for_every_member():
    errors = errors_of(HEADER + "A,甲镇,B,township\nB,乙镇,A,township\n")
    cycles = [(row, reason) for row, reason in errors if "循环" in reason]
    assert [row for row, _ in cycles] == [2, 3]
    assert "A → B → A" in cycles[0][1]


def test_changing_kind_must_not_strand_existing_children():
    errors = errors_of(HEADER + "BM,白帽镇,YX,unit\n", EXISTING)
    assert errors == [(2, "已有下级 BM-SC(深村村)是村,不能放在县直单位之下")]


def test_every_bad_row_is_listed_and_nothing_is_returned():
    text = (HEADER
            + "YX,岳西县,,county\n"        # 2 ok
            + "XC,响肠镇,YX,township\n"     # 3 ok
            + "bad code,坏编码,YX,township\n"  # 4
            + "V1,,XC,village\n"            # 5
            + "V2,二村,XC,hamlet\n"          # 6
            + "V3,三村,ZZ,village\n"         # 7
            + "V4,四村,YX,village\n"         # 8
            + "XC,重复,YX,township\n"        # 9
            + "V5,五村,XC,village\n")        # 10 ok
    errors = errors_of(text)
    assert [row for row, _ in errors] == [4, 5, 6, 7, 8, 9]
    assert all(isinstance(reason, str) and reason for _, reason in errors)


def test_one_row_with_several_problems_lists_each():
    errors = errors_of(HEADER + "bad code,,,city\n")
    assert [row for row, _ in errors] == [2, 2, 2]


def test_messages_and_str():
    error = OrgImportError([(3, "名称不能为空"), (0, "文件为空")])
    assert error.errors == [(0, "文件为空"), (3, "名称不能为空")]
    assert error.messages() == ["文件为空", "第 3 行:名称不能为空"]
    assert "第 3 行" in str(error)


def test_validate_rows_for_the_edit_page():
    rows = orgs.validate_rows([{"code": "NEW", "name": " 新镇 ", "parent_code": "YX",
                                "kind": "township"}], EXISTING)
    assert rows == [{"code": "NEW", "name": "新镇", "parent_code": "YX", "kind": "township"}]
    with pytest.raises(OrgImportError) as info:
        orgs.validate_rows([{"code": "NEW", "name": "新村", "parent_code": "YX",
                             "kind": "village"}], EXISTING)
    assert info.value.errors[0][0] == 1


# ---------------------------------------------------------------- export

def test_orgs_to_csv_round_trips_in_tree_order():
    shuffled = [EXPECTED[2], EXPECTED[4], EXPECTED[1], EXPECTED[3], EXPECTED[0]]
    data = orgs.orgs_to_csv(shuffled)
    assert data.startswith(b"\xef\xbb\xbfcode,name,parent_code,kind,secretary,phone\r\n")
    rows = parse_orgs_csv(data, [])
    plain = [{**o, "secretary": "", "phone": ""} for o in EXPECTED]
    assert sorted(rows, key=lambda r: r["code"]) == sorted(plain, key=lambda r: r["code"])
    codes = [r["code"] for r in rows]
    for row in rows:
        if row["parent_code"]:
            assert codes.index(row["parent_code"]) < codes.index(row["code"])


# ---------------------------------------------------------------- contact fields (催报)

def test_contact_columns_are_optional_english_or_chinese_and_normalized():
    text = ("code,name,parent_code,kind,书记,电话\n"
            "YX,岳西县,,county,,\n"
            "XC,响肠镇,YX,township, 王书记 ,138 0013 8000\n"
            "XC-QFT,千佛塔村,XC,village,李四,+86 139-0000-1111\n")
    rows = parse_orgs_csv(text.encode("utf-8"), [])
    assert [(r["secretary"], r["phone"]) for r in rows] == [
        ("", ""), ("王书记", "13800138000"), ("李四", "13900001111")]
    english = parse_orgs_csv(("code,name,parent_code,kind,Secretary,PHONE\n"
                              "YX,岳西县,,county,张三,１３８００１３８０００\n").encode(), [])
    assert english[0]["secretary"] == "张三" and english[0]["phone"] == "13800138000"
    # Without the columns the rows carry no contact keys (the stored ones are kept on save).
    assert "phone" not in parse_orgs_csv(GOOD.encode(), [])[0]


@pytest.mark.parametrize("secretary, phone, fragment", [
    ("王书记", "0556-1234567", "电话「0556-1234567」不是正确的手机号码"),
    ("王书记", "1380013800", "不是正确的手机号码"),
    ("=HYPERLINK()", "", "书记姓名不能以 = + - @ 开头"),
    ("王" * 21, "", "书记姓名太长"),
])
def test_bad_contact_is_refused_with_its_row(secretary, phone, fragment):
    text = f"code,name,parent_code,kind,secretary,phone\nYX,岳西县,,county,{secretary},{phone}\n"
    errors = errors_of(text)
    assert errors[0][0] == 2 and fragment in errors[0][1]
    message = OrgImportError(errors).messages()[0]
    assert message.startswith("第 2 行:")


def test_duplicated_contact_column_is_refused():
    errors = errors_of("code,name,parent_code,kind,电话,phone\nYX,岳西县,,county,,\n")
    assert errors == [(1, "表头中的列重复:phone")]


class MemoryStore:
    """The org part of a Store: upsert replaces whole rows (as both backends do)."""

    def __init__(self, rows):
        self.rows = {r["code"]: dict(r) for r in rows}

    def list_orgs(self):
        return [dict(r) for r in self.rows.values()]

    def upsert_orgs(self, rows):
        for row in rows:
            self.rows[row["code"]] = dict(row)


def test_import_and_save_keep_contacts_they_do_not_set():
    store = MemoryStore([{**EXISTING[0], "secretary": "王书记", "phone": "13800138000"},
                         EXISTING[1], {**EXISTING[2], "secretary": "李四", "phone": ""}])
    orgs.import_csv(store, (HEADER + "YX,岳西县(新),,county\n").encode())
    assert store.rows["YX"]["name"] == "岳西县(新)"
    assert store.rows["YX"]["secretary"] == "王书记" and store.rows["YX"]["phone"] == "13800138000"
    orgs.import_csv(store, "code,name,parent_code,kind,phone\nYX,岳西县,,county,\n".encode())
    assert store.rows["YX"]["phone"] == "" and store.rows["YX"]["secretary"] == "王书记"
    saved = orgs.save_org(store, {"code": "BM-SC", "name": "深村村", "parent_code": "BM",
                                  "kind": "village", "secretary": " 赵六 ",
                                  "phone": "13700001111"}, "BM-SC")
    assert saved["secretary"] == "赵六" and store.rows["BM-SC"]["phone"] == "13700001111"
    with pytest.raises(OrgImportError) as info:
        orgs.save_org(store, {"code": "BM-SC", "name": "深村村", "parent_code": "BM",
                              "kind": "village", "secretary": "", "phone": "12345"}, "BM-SC")
    assert info.value.errors[0][0] == 1 and "手机号码" in info.value.errors[0][1]
    assert store.rows["BM-SC"]["phone"] == "13700001111"
    data = orgs.orgs_to_csv(store.list_orgs()).decode("utf-8-sig")
    assert "BM-SC,深村村,BM,village,赵六,13700001111" in data


# ---------------------------------------------------------------- tree helpers

BY_CODE = {o["code"]: o for o in EXPECTED}


def test_org_path():
    assert orgs.org_path(BY_CODE, "XC-QFT") == ["岳西县", "响肠镇", "千佛塔村"]
    assert orgs.org_path(BY_CODE, "CZJ") == ["岳西县", "财政局"]
    assert orgs.org_path(BY_CODE, "YX") == ["岳西县"]
    assert orgs.org_path(BY_CODE, "NOPE") == []


def test_org_path_survives_missing_parent_and_cycles():
    broken = {"A": {"code": "A", "name": "甲", "parent_code": "B"},
              "B": {"code": "B", "name": "乙", "parent_code": "A"},
              "C": {"code": "C", "name": "丙", "parent_code": "GONE"}}
    assert orgs.org_path(broken, "A") == ["乙", "甲"]
    assert orgs.org_path(broken, "C") == ["丙"]


def test_org_paths():
    assert orgs.org_paths(EXPECTED)["XC_ZX"] == ["岳西县", "响肠镇", "响肠镇中心学校"]
    assert orgs.org_paths(BY_CODE) == orgs.org_paths(EXPECTED)


def test_org_index_subtrees_paths_and_columns():
    index = orgs.OrgIndex(EXPECTED)
    assert index.below("XC", include_self=False) == {"XC-QFT", "XC_ZX"}
    assert index.below("XC") == {"XC", "XC-QFT", "XC_ZX"}
    assert index.below("YX", include_self=False) == {"XC", "XC-QFT", "CZJ", "XC_ZX"}
    assert index.below("XC-QFT", include_self=False) == set()
    assert index.below("NOPE", include_self=False) == set()
    assert index.path("XC_ZX") == ["岳西县", "响肠镇", "响肠镇中心学校"]
    assert [o["code"] for o in index.townships()] == ["XC"]


def test_build_tree():
    tree = orgs.build_tree(EXPECTED)
    assert [n["code"] for n in tree] == ["YX"]
    county = tree[0]
    assert county["kind_label"] == "县" and county["depth"] == 0
    assert county["org"] is EXPECTED[0]
    assert [n["code"] for n in county["children"]] == ["XC", "CZJ"]
    township = county["children"][0]
    assert township["depth"] == 1 and township["kind_label"] == "乡镇"
    assert [(n["code"], n["depth"], n["kind_label"]) for n in township["children"]] == [
        ("XC-QFT", 2, "村"), ("XC_ZX", 2, "县直单位")]


def test_build_tree_keeps_orphans_and_cycle_members_at_top():
    broken = [{"code": "A", "name": "甲", "parent_code": "B", "kind": "township"},
              {"code": "B", "name": "乙", "parent_code": "A", "kind": "township"},
              {"code": "C", "name": "丙", "parent_code": "GONE", "kind": "village"}]
    assert sorted(n["code"] for n in orgs.build_tree(broken)) == ["A", "B", "C"]


def test_kind_labels():
    assert orgs.KIND_LABELS == {"county": "县", "township": "乡镇", "village": "村",
                                "unit": "县直单位"}


@pytest.mark.parametrize("names, kind, expected", [
    (["岳西县"], "county", ("岳西县", "", "")),
    (["岳西县", "响肠镇"], "township", ("岳西县", "响肠镇", "")),
    (["岳西县", "响肠镇", "千佛塔村"], "village", ("岳西县", "响肠镇", "千佛塔村")),
    (["岳西县", "县财政局"], "unit", ("岳西县", "", "县财政局")),
    (["岳西县", "响肠镇", "镇卫生院"], "unit", ("岳西县", "响肠镇", "镇卫生院")),
    (["岳西县", "响肠镇", "千佛塔村"], None, ("岳西县", "响肠镇", "千佛塔村")),
])
def test_path_columns_put_each_kind_in_its_column(names, kind, expected):
    assert orgs.path_columns(names, kind) == expected
