"""XLSForm workbooks written in the tests (the pyxform way: the form lives in the test), in the
shapes ODK and KoboToolbox users send: translations, groups, repeats, relevant, constraints,
and rows that cannot map."""
import io

from openpyxl import Workbook


def workbook(survey, choices=None, settings=None, sheets=None):
    """.xlsx bytes with a survey sheet (a list of rows; the first is the header; [] is an
    empty row), and a choices and a settings sheet when given. ``sheets``: other sheets by
    name, or the survey sheet's name in place of "survey"."""
    book = Workbook()
    book.remove(book.active)
    named = dict(sheets or {})
    for title, rows in (("survey", survey), ("choices", choices), ("settings", settings)):
        if rows is not None:
            named.setdefault(title, rows)
    for title, rows in named.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# An ODK form of a county office: English labels with a Chinese translation, a settings
# sheet. Excel rows are noted beside each row.
VILLAGE_SURVEY = workbook(
    survey=[
        ["type", "name", "label", "label::Chinese (zh)", "hint", "hint::Chinese (zh)",
         "required", "constraint", "constraint_message::Chinese (zh)", "relevant",
         "appearance", "calculation"],
        ["text", "village_name", "Village", "村名", "Full name", "填写全称", "yes",
         "string-length(.) <= 30"],                                                      # 2
        ["integer", "households", "Households", "户数", None, None, "true()",
         ". >= 0 and . <= 5000", "户数应在0到5000之间"],                                  # 3
        ["select_one yes_no", "has_project", "Has a project?", "是否有书记项目", None, None,
         "yes"],                                                                          # 4
        ["begin_group", "project", "Project", "项目情况", None, None, None, None, None,
         "${has_project} = 'yes'"],                                                       # 5
        ["text", "project_name", "Project name", "项目名称", None, None, "yes"],          # 6
        ["select_multiple areas", "areas", "Areas", "涉及领域"],                          # 7
        ["decimal", "invest", "Investment", "投资额", "10k yuan", "万元", None, ". >= 0",
         None, "selected(${areas}, 'industry')"],                                         # 8
        ["text", "problems", "Problems", "存在问题", None, None, None, None, None, None,
         "multiline"],                                                                    # 9
        ["end_group"],                                                                    # 10
        ["calculate", "invest_yuan", None, None, None, None, None, None, None, None, None,
         "${invest} * 10000"],                                                            # 11
        ["geopoint", "location", "Location", "位置"],                                     # 12
        ["begin_repeat", "steps", "Steps", "实施步骤"],                                   # 13
        ["date", "step_month", "Month", "月份", None, None, "yes", None, None, None,
         "month-year"],                                                                   # 14
        ["text", "step_task", "Task", "任务", None, None, "yes"],                         # 15
        ["integer", "step_people", "People", "参与人数", None, None, None,
         ". > 0 and . < 1000"],                                                           # 16
        ["end_repeat"],                                                                   # 17
        ["image", "site_photo", "Photo", "现场照片"],                                     # 18
        ["note", "thanks", "Thank you", "感谢填写"],                                      # 19
    ],
    choices=[
        ["list_name", "name", "label", "label::Chinese (zh)"],
        ["yes_no", "yes", "Yes", "是"],
        ["yes_no", "no", "No", "否"],
        ["areas", "industry", "Industry", "产业"],
        ["areas", "culture", "Culture", "文化"],
        ["areas", "ecology", "Ecology", "生态"],
    ],
    settings=[["form_title", "form_id", "version"],
              ["村级书记项目摸底", "village_survey", "2024060101"]],
)

# A KoboToolbox household form: label::English (en) and label::中文 (no untranslated label),
# metadata rows, an "or_other" select, a repeat inside a repeat, an empty row, no settings.
HOUSEHOLD = workbook(
    survey=[
        ["type", "name", "label::English (en)", "label::中文", "hint::中文", "required",
         "relevant", "constraint", "constraint_message", "default"],
        ["start", "start"],                                                               # 2
        ["today", "today"],                                                               # 3
        ["select_one gender", "gender", "Gender", "性别", None, "TRUE"],                  # 4
        ["integer", "age", "Age", "年龄", "周岁", "yes", None, ". >= 18 and . <= 120",
         "Age 18-120"],                                                                   # 5
        ["select_one yes_no or_other", "head", "Head of household?", "是否户主"],         # 6
        ["text", "phone", "Phone", "电话", None, None, None,
         "regex(., '^1[3-9][0-9]{9}$')", "请填写11位手机号"],                              # 7
        ["text", "head_name", "Name of the head", "户主姓名", None, "yes",
         "${head} = 'no'"],                                                               # 8
        ["integer", "members", "Members", "家庭人口", None, None, None, None, None, 4],   # 9
        ["range", "satisfaction", "Satisfaction", "满意度"],                              # 10
        ["text", "old_age_note", "Comment", "老人情况", None, "yes", "${age} > 60"],      # 11
        ["text", "either", "Either", "其他情况", None, None,
         "${head} = 'no' or ${age} = 30"],                                                # 12
        ["begin_repeat", "member", "Member", "成员"],                                     # 13
        ["text", "member_name", "Name", "姓名", None, "yes"],                             # 14
        ["begin_repeat", "jobs", "Jobs", "工作"],                                         # 15
        ["text", "job", "Job", "工作"],                                                   # 16
        ["end_repeat"],                                                                   # 17
        ["note", "member_note", "Note", "说明"],                                          # 18
        ["end_repeat"],                                                                   # 19
        [],                                                                               # 20
        ["acknowledge", "consent", "I agree", "我同意"],                                  # 21
        ["date", "visit_date", "Visit date", "走访日期", None, None, None,
         ". <= today()"],                                                                 # 22
    ],
    choices=[
        ["list_name", "name", "label::English (en)", "label::中文"],
        ["gender", "male", "Male", "男"],
        ["gender", "female", "Female", "女"],
        ["yes_no", "yes", "Yes", "是"],
        ["yes_no", "no", "No", "否"],
    ],
)
