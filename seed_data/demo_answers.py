"""Realistic Chinese demo answers for any Taizhang form schema.

``fake_answers(schema, rng)`` returns a dict in the stored answer format of
docs/ARCHITECTURE.md ("Form schema format"): ``int`` for integer, a normalized decimal
string, ``"YYYY-MM-DD"`` / ``"YYYY-MM"``, choice values (multiselect: a list in choice
order), ``bool``, a mainland mobile number, a list of row dicts for a repeat. Image fields
are left out (demo data has no photos) and sections carry no value. ``show_if`` is honoured
(a hidden field is absent), every constraint is respected, and a shown optional field is now
and then left empty (``None``, repeat ``[]``), as a real cadre would.

The built-in forms' field names have their own vocabularies (project titles, tasks, names,
universities, ...); any other schema gets generic values from its types, labels and
constraints. show_if is decided by forms.show_if, the rule the server applies. Same schema +
same seed -> same answers.
"""

import datetime
import re
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from forms.show_if import shown_in_answers

try:  # Python 3.11+
    from re import _parser as _sre_parse
except ImportError:  # pragma: no cover - Python < 3.11
    import sre_parse as _sre_parse

__all__ = ["fake_answers"]

# How often a shown optional field is left empty.
EMPTY_OPTIONAL_RATE = 0.15

# ---------------------------------------------------------------------------- people
_SURNAMES = ("汪王储刘程胡陈吴李张余朱徐杨何叶黄江方操姚潘韩石许曹彭詹查")
_GIVEN_NAMES = ("建国", "立新", "小军", "海燕", "春生", "德华", "明", "勇", "红梅", "志强",
                "文军", "玉兰", "家福", "先锋", "光明", "俊", "晓东", "国庆", "丽", "学兵",
                "传友", "长青", "小平", "永胜", "小娟", "秀英", "桂芳", "发根", "和平", "卫东",
                "金山", "云飞", "彩霞", "宏伟", "丹", "春花", "国华", "成林", "道宏", "少华",
                "志刚", "新民", "玉梅", "振华", "满意", "四清", "友生", "慧", "静", "磊")


def _person(rng):
    return rng.choice(_SURNAMES) + rng.choice(_GIVEN_NAMES)


_PINYIN = ("wang", "li", "zhang", "liu", "chen", "yang", "huang", "zhao", "wu", "zhou", "xu",
           "sun", "hu", "zhu", "gao", "lin", "he", "guo", "ma", "luo", "cheng", "chu")
_MAIL_DOMAINS = ("ahau.edu.cn", "ustc.edu.cn", "ahu.edu.cn", "hfut.edu.cn", "njau.edu.cn",
                 "zju.edu.cn", "cau.edu.cn", "163.com", "qq.com")
_PHONE_PREFIXES = ("130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151",
                   "152", "153", "155", "156", "157", "158", "159", "166", "173", "177", "180",
                   "181", "182", "183", "185", "186", "187", "188", "189", "191", "198", "199")


def _phone(rng):
    return rng.choice(_PHONE_PREFIXES) + "".join(rng.choice("0123456789") for _ in range(8))


# ---------------------------------------------------------------------------- places
_TOWNSHIPS = {
    "响肠镇": ("响肠村", "千佛塔村", "余畈村", "大歇村", "胡山村", "请水寨村"),
    "菖蒲镇": ("菖蒲村", "港河村", "里仁村", "长岭村", "溪沸村", "西畈村", "撞钟村"),
    "白帽镇": ("白帽村", "深村村", "大造村", "双河村", "土桥村"),
    "店前镇": ("店前村", "红星村", "凉亭村", "东冲村", "杨柳村"),
    "天堂镇": ("天堂村", "石关村", "城西村", "黄岭村"),
}
_GROUPS = ("李湾", "榜上", "蛇形", "河口", "大屋", "新屋", "塘坊", "老屋", "松树岭", "中畈")
_LOCATIONS = ("李湾村民组", "榜上村民组", "蛇形村民组", "村部门前", "三步桥街", "红叶谷",
              "村小学路口", "河口组桥头", "香榧园", "村卫生室旁", "老街菜市场", "茶厂门口")


def _village(rng):
    town = rng.choice(sorted(_TOWNSHIPS))
    return town + rng.choice(_TOWNSHIPS[town])


_COMPANIES = (
    "岳西县深村红叶旅游专业合作社", "岳西县港河毛竹专业合作社", "岳西县菖蒲香榧种植专业合作社",
    "岳西县千佛塔冬桃种植专业合作社", "岳西县翠兰茶叶专业合作社", "岳西县溪沸生态养殖家庭农场",
    "安徽大别山黄精生物科技有限公司", "安徽岳西翠兰茶业有限公司", "岳西县里仁食用菌专业合作社",
    "岳西县长岭林下中药材专业合作社", "安徽老区优选电子商务有限公司", "岳西县劳务服务有限公司",
)
_INTRODUCED = (
    "安徽大别山中药饮片有限公司", "杭州绿源茶业科技有限公司", "苏州禾丰农业发展有限公司",
    "上海鲜达冷链物流有限公司", "安徽山里人家文旅发展有限公司", "合肥智农数字科技有限公司",
    "浙江安吉竹木制品有限公司", "南京康养旅居投资有限公司", "安徽皖西白鹅食品有限公司",
)

# ---------------------------------------------------------------------------- projects
# Keyed by category: dev / reform / organ / culture / matter.
_TITLES = {
    "dev": (
        "党建引领“小冬桃”助力乡村振兴",
        "打造“一米菜园”助推一二三产融合发展",
        "创新举措推动村级集体经济驶入“快车道”",
        "发展林下经济，实现毛竹提质增效",
        "党建引领红叶乡村旅游，擦亮“深村红叶名片”",
        "香榧园林下养禽，促群众增收",
        "流转撂荒地种黄精，壮大村集体经济",
        "“支部+合作社+农户”做强茶叶产业",
        "电商助农，让老区农产品“走出去”",
        "党建引领林下菌药种植十万棒",
    ),
    "reform": (
        "“三步走”建强村级后备干部队伍",
        "拆迁安置小区党组织“聚沙成塔”",
        "党建引领信用村建设",
        "“头雁领航·网格聚力”党建引领乡村治理",
        "“四议两公开”规范村级重大事项决策",
        "党员积分制管理激活“神经末梢”",
        "新能源产业链党建联盟",
        "回引在外优秀人才进村“两委”",
    ),
    "organ": (
        "党建引领“四服务一提升”",
        "党建领航“十大行动”",
        "“人社服务快办”助力稳就业",
        "党员突击队包保重点缺工企业",
        "党建引领优化营商环境“绿色通道”",
        "“新春访万企、助力解难题”",
        "支部联村，助力乡村振兴",
    ),
    "culture": (
        "弘扬铁军精神，争做红色先锋",
        "建好村史馆，留住乡愁记忆",
        "让红色教育基地“活”起来",
        "党建引领促和谐，移风易俗入人心",
        "新四军抗战遗址修复与现场教学点建设",
        "“百名博士上百课”乡村夜校",
        "唱支山歌给党听，红色文化进农家",
    ),
    "matter": (
        "党建引领，打造三步桥街人居环境治理示范点",
        "党建引领征地搬迁“阳光操作”",
        "村组道路硬化“最后一公里”",
        "撂荒地整治复耕",
        "党建引领促和谐，移风易俗入人心",
        "安全饮水巩固提升",
        "矛盾纠纷“小事不出村”",
    ),
}

_PROBLEMS = {
    "dev": (
        "村集体经济经营性收入仅{n}万元，主要靠资产租赁，缺少稳定的增收产业。",
        "全村竹园、育林山面积大但利用率低，毛竹价格低迷，群众守着资源不增收。",
        "撂荒地逐年增多，青壮年外出务工，留守群众缺少家门口的就业渠道。",
        "特色农产品品质好但销路窄，群众自产自销，卖不上价。",
    ),
    "reform": (
        "村“两委”班子年龄偏大，35岁以下后备干部只有{n}名，“后继无人”问题突出。",
        "拆迁安置后群众来自不同行政村，原有党组织架构被打破，融合难、矛盾多。",
        "党员教育管理手段单一，部分党员作用发挥不明显，群众认可度不高。",
        "村级重大事项决策不够规范，群众参与少，容易引发信访矛盾。",
    ),
    "organ": (
        "小微企业融资难、融资贵，部分企业生产经营遇到困难，急需纾困解难。",
        "群众就业难、参保难、养老难等急难愁盼问题较多，办事跑腿多。",
        "县内{n}家重点企业用工缺口大，劳动力供需信息不对称。",
        "机关党建与业务工作“两张皮”，服务基层的办法不多。",
    ),
    "culture": (
        "村内红色资源丰富，但遗址年久失修，缺少讲解和展陈，作用发挥不充分。",
        "红白喜事大操大办、人情攀比之风仍有抬头，群众负担重。",
        "党员教育培训形式单一，现场教学点少，吸引力不强。",
        "村里老物件、老照片散落各家，村史无人整理，乡愁记忆逐渐消失。",
    ),
    "matter": (
        "三步桥街环境脏乱差，群众反映强烈。",
        "征地搬迁涉及{n}户，群众顾虑多，工作推进慢。",
        "村组道路坑洼不平，雨天群众出行难。",
        "部分村民组饮水水源不稳定，旱季吃水难。",
    ),
}

_GOALS = {
    "dev": (
        "年内发展林下经济{n}亩，村集体经济经营性收入突破{m}万元，带动{k}户群众增收。",
        "建成特色种植基地{n}亩，培育致富带头人{k}名，村集体经济增收{m}万元以上。",
        "打造乡村旅游示范点1个，年接待游客{k}00人次，村集体经济增收{m}万元。",
    ),
    "reform": (
        "年内储备35岁以下村级后备干部{k}名，形成可复制的“选育管用”工作机制。",
        "建立“小区党总支+楼栋党小组+党员中心户”组织体系，矛盾纠纷化解率达95%以上。",
        "全村党员积分制管理全覆盖，形成一套党员评星定级办法。",
    ),
    "organ": (
        "年内走访服务企业{n}家，办结企业和群众诉求{m}件，群众满意率95%以上。",
        "开展十项服务行动，帮助{m}0名劳动力实现就业，新增参保{n}0人。",
        "为小微企业提供贷款{m}00万元，开通审批“绿色通道”，办理时限压缩一半。",
    ),
    "culture": (
        "修缮红色遗址{k}处，建成现场教学点1个，年接待党员群众{n}00人次。",
        "建成村史馆1个，征集老物件{n}件，全年开展党员教育培训{k}期。",
        "红白理事会全覆盖，婚丧事宜简办率达到90%以上。",
    ),
    "matter": (
        "年内完成环境整治，打造人居环境示范点1个。",
        "年内完成{n}户征地搬迁，零上访。",
        "硬化村组道路{k}公里，解决{n}户群众出行难。",
    ),
}

_VILLAGE_MEASURES = (
    "1.召开支委会、党员大会研究实施方案；2.村“两委”分片负责，党员示范带动；"
    "3.每月到镇汇报进展，接受督导。",
    "1.成立书记任组长的工作专班；2.建立任务清单，明确责任人和完成时限；"
    "3.邀请挂职博士、名誉村主任到村指导；4.定期通报进度。",
    "1.入户宣传发动，征求群众意见；2.依托合作社统一组织实施；"
    "3.争取上级项目资金支持；4.建立工作台账，按月销号。",
    "1.书记顶格谋划、顶格协调、顶格推进；2.实行清单式管理、责任化推进；"
    "3.对标先进地区学习借鉴；4.年底对照目标逐项验收。",
)
_MEASURES = {
    "dev": _VILLAGE_MEASURES, "reform": _VILLAGE_MEASURES, "culture": _VILLAGE_MEASURES,
    "matter": _VILLAGE_MEASURES,
    "organ": (
        "1.局党组书记顶格推进，班子成员分工包保；2.组建党员突击队，深入企业和乡村一线；"
        "3.建立问题清单，限时办结、跟踪回访。",
        "1.制定服务清单，开通“绿色通道”；2.党员联系企业全覆盖；3.每月通报办结情况。",
        "1.开展“新春访万企”走访；2.党支部与村结对共建；3.按季度向县直机关工委报告进展。",
    ),
}
_VILLAGE_EXPECTED = (
    "实施“一个项目”、解决“一批问题”、形成“一项经验”、推动“一次提升”，"
    "村集体经济和群众收入明显增加。",
    "群众满意度明显提升，形成可复制推广的做法，争创县级优秀“书记项目”。",
    "基层党组织战斗堡垒作用进一步增强，党员先锋模范作用充分发挥。",
    "项目年内完成，成效可看可学，为全镇提供示范。",
)
_EXPECTED = {
    "dev": _VILLAGE_EXPECTED, "reform": _VILLAGE_EXPECTED, "culture": _VILLAGE_EXPECTED,
    "matter": _VILLAGE_EXPECTED,
    "organ": (
        "企业和群众急难愁盼问题有效解决，满意率95%以上，机关党建与业务深度融合。",
        "形成机关党建服务发展的“一项经验”，争创模范机关。",
    ),
}

_STEP_TASKS = {
    "dev": (
        "召开支委会、党员大会，研究确定项目实施方案",
        "入户宣传发动，摸清撂荒地和竹园底数",
        "合作社流转撂荒地，签订流转合同",
        "补栽木子树，栽插黄精等中药材",
        "组织党员示范户开展种植技术培训",
        "林下禽类养殖入栏，落实防疫措施",
        "对接电商平台和采购企业，拓宽销路",
        "开展中期评估，查找问题及时整改",
        "组织采收、销售，核算集体经济收益",
        "总结经验做法，准备镇级验收",
    ),
    "reform": (
        "摸排在外优秀人才和本土能人，建立后备干部人才库",
        "召开党员大会，公开比选后备干部人选",
        "制定培养计划，实行“一对一”导师帮带",
        "安排后备干部到信访、产业等岗位实践锻炼",
        "开展党员积分评星，公示评定结果",
        "组织外出学习先进村经验",
        "中期考察，动态调整后备干部名单",
        "总结形成制度文件，准备验收",
    ),
    "organ": (
        "制定服务清单，组建党员突击队",
        "开展“新春访万企”走访，建立问题清单",
        "开通授信、审批“绿色通道”",
        "深入乡村开展招聘活动",
        "组织劳动力到县经开区企业实地参观",
        "对重点缺工企业逐家包保",
        "梳理办结事项，开展满意度回访",
        "总结经验，迎接考核验收",
    ),
    "culture": (
        "注册红色文化服务中心，明确运营主体",
        "完成遗址修复方案设计和报批",
        "征集老物件、老照片，整理村史资料",
        "完成村史馆（教学点）布展",
        "开展第一批党员教育培训",
        "完成身边典型选树工作",
        "接待党员群众参观学习",
        "总结成效，准备验收",
    ),
}
_STEP_TASKS["matter"] = _STEP_TASKS["dev"][:2] + (
    "召开板凳会，听取群众意见",
    "组织党员志愿者集中整治",
    "完成主体工程建设",
    "回访群众，巩固整治成果",
)

_MECHANISMS = (
    "推行“选、育、带、用、管”闭环机制，后备干部实行导师帮带、岗位历练、量化考评。",
    "建立“镇党委主导、村党组织具体抓、党员干部带头干”联动体系，党建网格与治理网格合一。",
    "落实“四议两公开”，重大事项党组织提议、“两委”商议、党员大会审议、村民代表会议决议。",
    "实行党员积分制管理，积分与评星定级、评先评优挂钩，每季度公示。",
)
_REPLICABLE = (
    "形成《村级后备干部培养管理办法》，可在全县村级组织推广。",
    "形成“小区党总支+楼栋党小组+党员中心户”组织架构，适用于拆迁安置小区。",
    "总结“12580”党建工作法，编入案例集供各村学习借鉴。",
    "形成党员积分管理实施细则和评星标准，可在同类村推广。",
)
_SERVICE_LISTS = (
    "服务实体经济、服务城乡建设、服务乡村振兴、服务支农惠农，提升财政服务效能。",
    "人社服务快办、就业援助、技能培训、参保扩面、劳动维权等十大行动。",
    "企业诉求“一单清”、审批“绿色通道”、党员联系企业“包保制”。",
)
_RED_RESOURCES = (
    "新四军抗战遗址3处，老党员口述红色故事。",
    "革命烈士纪念塔、红军标语墙。",
    "本村老党员先进事迹和村史资料。",
    "罗家嘴暴动旧址等周边红色场所。",
)
_POSITION_NAMES = ("新四军抗战遗址现场教学点", "深村村史馆", "红色教育基地", "党员教育培训基地",
                   "新时代文明实践站", "红叶谷党建主题公园")

_DONE_TASKS = {
    "dev": ("完成黄精栽植{n}亩，补栽木子树{k}00棵；召开党员大会1次。",
            "合作社流转撂荒地{n}亩，签订流转合同{k}份。",
            "林下禽类养殖入栏{k}000只，对接收购企业2家。"),
    "reform": ("召开党员大会公开比选后备干部{k}名，制定培养计划。",
               "完成党员积分评星，公示评定结果。",
               "组织后备干部到信访岗位实践锻炼{k}人次。"),
    "organ": ("走访企业{n}家，解决融资、用工问题{k}个。",
              "深入乡村开展招聘活动{k}场，提供就业岗位{n}0个。",
              "办结群众诉求{n}件，回访满意率100%。"),
    "culture": ("完成遗址修复主体工程，布展方案已定稿。",
                "开展党员教育培训1期，参训{n}人次。",
                "征集老物件{n}件、老照片{k}0张。"),
    "matter": ("组织入户走访{k}0户，收集群众意见{n}条，已全部梳理分类。",
               "组织党员志愿者集中整治{k}次，清理垃圾{n}车。",
               "完成道路硬化{k}00米。"),
}
_PROBLEM_NOTES = (
    "连续阴雨天气影响施工进度。",
    "部分群众对土地流转有顾虑，需要继续做工作。",
    "项目资金到位较慢。",
    "技术力量不足，需要专家现场指导。",
)
_NEXT_PLANS = (
    "完成剩余{n}亩种植任务，组织技术培训1期。",
    "推进主体工程建设，月底前完成{k}0%。",
    "对接采购企业，落实销售渠道。",
    "开展中期自查，按镇党委督导意见整改。",
)
_COORDINATION = (
    "需县林业局协调林下种植技术指导。",
    "需镇党委协调项目用地手续。",
    "需县农业农村局支持冷链仓储设施建设资金。",
    "需县交通运输局协调道路硬化计划。",
)
_COMPLETION = (
    "对照实施方案{k}项任务，已全部完成；项目安排表中的时间节点均按期落实。",
    "实施步骤中的主要任务已完成，剩余1项因天气原因延后至下月完成。",
    "项目主体已建成投入使用，配套设施正在完善。",
)
_RESULTS = {
    "dev": ("村集体经济经营性收入由{n}万元增加到{m}万元，带动{k}0户群众户均增收3000元以上。",
            "建成林下种养基地{m}0亩，吸纳{n}名群众家门口就业。"),
    "reform": ("储备后备干部{k}名，其中2名进入村“两委”班子。",
               "形成制度文件{k}件，矛盾纠纷化解率达98%。"),
    "organ": ("走访服务企业{n}家，办结企业和群众诉求{m}件，满意率98%。",
              "为小微企业提供贷款{m}00万元，帮助{n}0名劳动力实现就业。"),
    "culture": ("接待参观学习{n}00人次，开展现场教学{k}期。",
                "建成村史馆1个，婚丧事宜简办率达到95%。"),
    "matter": ("建成示范点1个，群众满意率达98%，被选为县“比学创”参观点。",
               "完成{n}户征地搬迁，零上访。"),
}
_UNFINISHED = (
    "冷链仓储设施因资金未到位尚未建成，计划明年上半年完成。",
    "部分流转地块因群众意见不一致未能按期种植。",
    "培训计划完成80%，剩余培训因疫情防控延期。",
)
_EXPERIENCE = _REPLICABLE + (
    "“支部+合作社+农户”模式，可在有林地资源的村推广。",
)

_INSTITUTIONS = ("中国科学技术大学", "安徽农业大学", "合肥工业大学", "安徽大学", "南京农业大学",
                 "浙江大学", "中国农业大学", "中国科学院合肥物质科学研究院", "华中农业大学",
                 "安徽中医药大学", "安徽省农业科学院")
_SPECIALTIES = ("茶学", "作物遗传育种", "中药学", "农业经济管理", "旅游管理", "食品科学与工程",
                "林学", "植物保护", "风景园林", "畜牧学", "农村发展", "电子商务")
_COURSES = ("乡村振兴背景下的特色产业发展路径", "茶叶绿色高效栽培技术", "农产品电商直播运营",
            "林下中药材种植技术", "乡村旅游规划与运营", "村级集体经济发展模式",
            "江浙先进村发展经验分享", "食用菌标准化生产", "农产品品牌打造")
_PAIR_VILLAGES = ("浙江省安吉县余村", "江苏省句容市唐陵村", "浙江省桐庐县荻浦村",
                  "江苏省江阴市华西村", "上海市崇明区前卫村")
_HELP_PROJECTS = ("帮助编制《林下经济产业发展规划》，争取省级项目资金{n}0万元。",
                  "帮助申报茶叶绿色高质高效项目，争取资金{n}万元。",
                  "牵线江浙先进村结对共建，组织村干部考察学习1次。")

_DEMANDS = {
    "道路交通": ("{g}组到村部的道路坑洼不平，雨天摩托车无法通行，涉及{n}户。",
                 "{g}组桥头护栏损坏，学生上学经过存在安全隐患。"),
    "饮水用电": ("{g}组旱季水源不足，{n}户群众吃水困难，希望接通集中供水。",
                 "{g}组电压不稳，夏天用电高峰经常跳闸。"),
    "人居环境": ("{g}组垃圾清运不及时，河道边堆放生活垃圾。",
                 "{g}组一户危房无人居住，存在倒塌隐患。"),
    "产业发展": ("群众种的茶叶、冬桃销路不畅，希望村里帮助联系收购企业。",
                 "希望村里组织香榧、黄精种植技术培训。"),
    "就业社保": ("{g}组几名返乡人员想在家门口就业，希望提供招聘信息。",
                 "老人养老保险缴费档次和待遇不清楚，希望上门讲解。"),
    "医疗教育": ("村卫生室常用药品不全，老人看病要跑到镇上。",
                 "留守儿童放学后无人看管，希望开设课后托管。"),
    "矛盾纠纷": ("{g}组两户因宅基地边界发生纠纷，请求村里调解。",
                 "{g}组山林界址不清，两户群众多次争吵。"),
    "政策咨询": ("咨询撂荒地流转补贴政策和申领办法。",
                 "咨询危房改造补助申请条件。"),
}
_GENERIC_SENTENCES = (
    "已按要求组织落实。", "由村“两委”分片负责推进。", "党员示范带动，群众积极参与。",
    "建立工作台账，按月销号。", "存在的问题已及时上报镇党委。", "下一步将持续跟踪问效。",
)

# Integer / decimal typical ranges per field name: (low, high), clipped to the schema's min/max.
_INT_RANGES = {
    "jobs": (5, 150), "households": (20, 400), "party_orgs": (1, 12), "members": (10, 120),
    "documents": (1, 6), "enterprises": (3, 60), "matters": (10, 200),
    "people_served": (200, 20000), "commando_size": (8, 30), "visitors": (500, 20000),
    "trainings": (2, 12), "trainees": (50, 1500), "audience": (15, 120), "progress": (5, 100),
}
_DEC_RANGES = {
    "area_mu": (20, 800), "investment": (10, 500), "collective_income": (3, 50),
    "funding": (100, 5000), "month_investment": (0.5, 30),
    ("enterprises", "investment"): (100, 5000),
}
_REPEAT_ROWS = {"steps": (4, 8), "lectures": (0, 6), "enterprises": (0, 4)}
_BOOL_RATES = {"need_coordination": 0.3, "commando": 0.6, "native": 0.3, "demo_village": 0.4,
               "follow_up": 0.7}
_CHOICE_WEIGHTS = {
    "self_rating": {"优秀": 3, "良好": 5, "一般": 1.7, "较差": 0.3},
    "schedule": {"超前": 1, "按序时推进": 6, "滞后": 1.5},
    "topic_mode": {"点题": 2, "选题": 3},
    "completion_level": {"全部完成": 6, "基本完成": 3, "部分完成": 1},
    "status": {"洽谈中": 3, "已签约": 2, "已落地": 2, "已投产": 1},
    "post_role": {"名誉村主任": 1, "科技特派员": 1},
}


# The 项目类别 / 项目类型 choice that matches the submission's category.
_CATEGORY_CHOICES = {
    "category": {"dev": "党建引领发展类", "reform": "党建改革创新类", "organ": "机关党建提升类",
                 "culture": "党建文化建设类", "matter": "书记领办事项"},
    "project_kind": {"dev": "书记项目", "reform": "书记项目", "organ": "书记项目",
                     "culture": "书记项目", "matter": "书记领办事项"},
}
# Optional figures that only make sense for some categories (left empty otherwise).
_CATEGORY_ONLY = {"collective_income": {"dev", "matter"}, "area_mu": {"dev", "matter"}}


# ---------------------------------------------------------------------------- helpers
def _choice_values(spec):
    return [c["value"] if isinstance(c, dict) else c for c in spec.get("choices") or []]


def _normalize_decimal(value):
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "") else text


def _parse_date(text, default):
    try:
        return datetime.date.fromisoformat(str(text))
    except (TypeError, ValueError):
        return default


def _parse_month(text, default):
    """'YYYY-MM' -> month index (year * 12 + month - 1)."""
    match = re.fullmatch(r"(\d{4})-(\d{2})", str(text))
    if not match:
        return default
    return int(match.group(1)) * 12 + int(match.group(2)) - 1


def _month_text(index):
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def _from_regex(pattern, rng):
    """A random string matching a simple regex (classes, literals, groups, alternation)."""
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    p = _sre_parse

    def pick_in(items):
        negate = bool(items) and items[0][0] is p.NEGATE
        if negate:
            rx = re.compile(_sre_in_to_regex(pattern_items=items))
            pool = [c for c in alphabet + alphabet.upper() if rx.fullmatch(c)]
            return rng.choice(pool) if pool else "x"
        op, av = rng.choice(items)
        if op is p.LITERAL:
            return chr(av)
        if op is p.RANGE:
            return chr(rng.randint(av[0], av[1]))
        return category(av)

    def category(av):
        name = str(av)
        if "NOT_DIGIT" in name:
            return rng.choice("abcxyz")
        if "DIGIT" in name:
            return rng.choice("0123456789")
        if "NOT_WORD" in name:
            return rng.choice("-.")
        if "WORD" in name:
            return rng.choice(alphabet)
        if "NOT_SPACE" in name:
            return rng.choice(alphabet)
        if "SPACE" in name:
            return " "
        return rng.choice(alphabet)

    def emit(items):
        out = []
        for op, av in items:
            if op is p.LITERAL:
                out.append(chr(av))
            elif op is p.NOT_LITERAL:
                out.append(rng.choice([c for c in alphabet if ord(c) != av]))
            elif op is p.ANY:
                out.append(rng.choice(alphabet))
            elif op is p.IN:
                out.append(pick_in(av))
            elif op is p.CATEGORY:
                out.append(category(av))
            elif op in (p.MAX_REPEAT, p.MIN_REPEAT, getattr(p, "POSSESSIVE_REPEAT", None)):
                low, high, sub = av
                high = min(high, low + 8) if high != p.MAXREPEAT else low + rng.randint(1, 8)
                for _ in range(rng.randint(low, max(low, high))):
                    out.append(emit(sub))
            elif op is p.SUBPATTERN:
                out.append(emit(av[-1]))
            elif op is p.BRANCH:
                out.append(emit(rng.choice(av[1])))
            # AT (anchors), ASSERT, GROUPREF...: nothing to emit; the caller re-checks.
        return "".join(out)

    return emit(_sre_parse.parse(pattern))


def _sre_in_to_regex(pattern_items):
    """Rebuild a character class from parsed IN items (used only for negated classes)."""
    p = _sre_parse
    parts = []
    for op, av in pattern_items:
        if op is p.NEGATE:
            parts.append("^")
        elif op is p.LITERAL:
            parts.append(re.escape(chr(av)))
        elif op is p.RANGE:
            parts.append(f"{re.escape(chr(av[0]))}-{re.escape(chr(av[1]))}")
        elif op is p.CATEGORY:
            name = str(av)
            parts.append({"CATEGORY_DIGIT": r"\d", "CATEGORY_NOT_DIGIT": r"\D",
                          "CATEGORY_WORD": r"\w", "CATEGORY_NOT_WORD": r"\W",
                          "CATEGORY_SPACE": r"\s", "CATEGORY_NOT_SPACE": r"\S"}.get(name, ""))
    return "[" + "".join(parts) + "]"


def _category(schema):
    key = f"{schema.get('id', '')} {schema.get('title', '')}"
    for needle, cat in (("organ", "organ"), ("机关", "organ"), ("reform", "reform"),
                        ("改革", "reform"), ("culture", "culture"), ("文化", "culture"),
                        ("development", "dev"), ("发展", "dev"), ("leader_matter", "matter"),
                        ("领办", "matter")):
        if needle in key:
            return cat
    return None


# ---------------------------------------------------------------------------- generator
class _Faker:
    def __init__(self, schema, rng):
        self.schema = schema
        self.rng = rng
        # Forms that are not tied to one category (月报, 验收) get one per submission, so
        # the title, the 项目类别 choice and the figures agree with each other.
        self.category = _category(schema) or rng.choice(("dev", "dev", "reform", "organ",
                                                         "culture", "matter"))
        # One reporting year per submission keeps dates, months and deadlines coherent.
        self.year = rng.choice((2024, 2025))
        self.step_tasks = None
        self.month_start = None

    # -- public ------------------------------------------------------------
    def fill(self, fields, parent=None, row_index=0, row_count=1):
        values = {}
        for spec in fields:
            ftype = spec.get("type")
            if ftype in ("section", "image"):
                continue
            if not shown_in_answers(spec, fields, values):
                continue
            values[spec["name"]] = self.value(spec, values, parent, row_index, row_count)
        return values

    def value(self, spec, values, parent, row_index, row_count):
        ftype = spec.get("type")
        required = bool(spec.get("required"))
        if ftype == "boolean":
            return self.boolean(spec)
        if ftype == "repeat":
            return self.repeat(spec)
        if ftype == "multiselect":
            return self.multiselect(spec, required)
        if ftype == "project":
            return None  # demo data opens no projects: a report names none
        if not required and self.rng.random() < EMPTY_OPTIONAL_RATE:
            return None
        only_for = _CATEGORY_ONLY.get(spec["name"])
        if not required and only_for and self.category not in only_for:
            return None
        method = getattr(self, "v_" + str(ftype), None)
        if method is None:
            raise ValueError(f"unknown field type {ftype!r} in field {spec.get('name')!r}")
        return method(spec, values, parent, row_index, row_count)

    # -- pickers -------------------------------------------------------------
    def pick(self, table, key=None):
        options = table.get(key or self.category) if isinstance(table, dict) else table
        if not options:
            options = [x for group in table.values() for x in group] \
                if isinstance(table, dict) else ["已按要求落实"]
        return self.fmt(self.rng.choice(options))

    def fmt(self, text):
        rng = self.rng
        return text.format(n=rng.randint(3, 30), m=rng.randint(10, 60), k=rng.randint(2, 9),
                           g=rng.choice(_GROUPS))

    # -- types -----------------------------------------------------------------
    def boolean(self, spec):
        if spec.get("required"):
            return True
        rate = _BOOL_RATES.get(spec["name"], 0.5)
        if isinstance(spec.get("default"), bool) and spec["name"] not in _BOOL_RATES:
            rate = 0.75 if spec["default"] else 0.25
        return self.rng.random() < rate

    def repeat(self, spec):
        rng = self.rng
        low = int(spec.get("min_items") or 0)
        high = spec.get("max_items")
        high = int(high) if high is not None else low + 6
        if spec.get("required"):
            low = max(low, 1)
        typical = _REPEAT_ROWS.get(spec["name"], (low, low + 4))
        lo = min(max(low, typical[0]), high)
        hi = max(lo, min(high, typical[1]))
        count = rng.randint(lo, hi)
        self.step_tasks = None
        self.month_start = None
        rows = [self.fill(spec.get("fields") or [], parent=spec["name"], row_index=i,
                          row_count=count) for i in range(count)]
        return rows

    def multiselect(self, spec, required):
        rng = self.rng
        choices = _choice_values(spec)
        low = int(spec.get("min") or 0)
        high = int(spec["max"]) if spec.get("max") is not None else len(choices)
        high = min(high, len(choices))
        if not required and low == 0 and rng.random() < EMPTY_OPTIONAL_RATE:
            return None
        low = max(low, 1)
        if high < low:
            return []
        count = rng.randint(low, min(high, max(low, 3)))
        picked = set(self.weighted_sample(spec["name"], choices, count))
        return [c for c in choices if c in picked]

    def weighted_sample(self, name, choices, count):
        weights = _CHOICE_WEIGHTS.get(name, {})
        pool = list(choices)
        out = []
        for _ in range(count):
            w = [weights.get(c, 0.3 if c == "其他" else 1.0) for c in pool]
            chosen = self.rng.choices(pool, weights=w)[0]
            out.append(chosen)
            pool.remove(chosen)
        return out

    def v_select(self, spec, values, parent, row_index, row_count):
        choices = _choice_values(spec)
        preferred = _CATEGORY_CHOICES.get(spec["name"], {}).get(self.category)
        if preferred in choices:
            return preferred
        default = spec.get("default")
        if default in choices and self.rng.random() < 0.6:
            return default
        return self.weighted_sample(spec["name"], choices, 1)[0]

    def v_phone(self, spec, values, parent, row_index, row_count):
        return _phone(self.rng)

    def v_integer(self, spec, values, parent, row_index, row_count):
        rng = self.rng
        lo_c = spec.get("min")
        hi_c = spec.get("max")
        if lo_c is not None:
            lo_c = int(Decimal(str(lo_c)).to_integral_value(ROUND_CEILING))
        if hi_c is not None:
            hi_c = int(Decimal(str(hi_c)).to_integral_value(ROUND_FLOOR))
        if spec["name"] == "progress":
            month = _parse_month(values.get("report_month"), None)
            base = 10 * (month % 12) if month is not None else rng.randint(1, 10) * 10
            typical = (max(0, base - 10), min(100, base + 10))
        else:
            typical = _INT_RANGES.get(spec["name"])
        if typical is None:
            low = lo_c if lo_c is not None else 0
            typical = (low, hi_c if hi_c is not None else low + 100)
            typical = (typical[0], min(typical[1], typical[0] + 500))
        lo = max(typical[0], lo_c) if lo_c is not None else typical[0]
        hi = min(typical[1], hi_c) if hi_c is not None else typical[1]
        if lo > hi:  # the typical range misses the constraints: use the constraints
            lo = lo_c if lo_c is not None else hi
            hi = hi_c if hi_c is not None else lo
        value = rng.randint(lo, hi)
        if hi - lo >= 100 and spec["name"] != "progress":
            value = min(hi, max(lo, round(value, -1)))  # round figures, like real reports
        return value

    def v_decimal(self, spec, values, parent, row_index, row_count):
        rng = self.rng
        lo_c = Decimal(str(spec["min"])) if spec.get("min") is not None else None
        hi_c = Decimal(str(spec["max"])) if spec.get("max") is not None else None
        typical = _DEC_RANGES.get((parent, spec["name"])) or _DEC_RANGES.get(spec["name"])
        if typical is None:
            low = lo_c if lo_c is not None else Decimal(0)
            typical = (low, min(hi_c, low + 100) if hi_c is not None else low + 100)
        lo, hi = _clamp_range(Decimal(str(typical[0])), Decimal(str(typical[1])), lo_c, hi_c)
        step = Decimal("0.1") if hi - lo < 100 else Decimal(1)
        first = (lo / step).to_integral_value(ROUND_CEILING)
        last = (hi / step).to_integral_value(ROUND_FLOOR)
        if first > last:
            return _normalize_decimal(lo)
        return _normalize_decimal(rng.randint(int(first), int(last)) * step)

    def v_date(self, spec, values, parent, row_index, row_count):
        rng = self.rng
        year = self.year
        name = spec["name"]
        if name == "deadline":
            lo, hi = datetime.date(year, 11, 30), datetime.date(year, 12, 31)
        elif name in ("apply_date",):
            lo, hi = datetime.date(year, 11, 1), datetime.date(year, 12, 25)
        elif name == "team_date":
            start = _parse_date(values.get("start_date"), datetime.date(year, 3, 1))
            lo, hi = start, start + datetime.timedelta(days=3)
        elif parent is not None:  # dated rows run in order through the year
            span = 300 // max(row_count, 1)
            lo = datetime.date(year, 3, 1) + datetime.timedelta(days=row_index * span)
            hi = lo + datetime.timedelta(days=max(span - 1, 0))
        else:
            lo, hi = datetime.date(year, 2, 1), datetime.date(year, 11, 30)
        lo_c = _parse_date(spec.get("min"), None)
        hi_c = _parse_date(spec.get("max"), None)
        lo, hi = _clamp_range(lo, hi, lo_c, hi_c)
        return (lo + datetime.timedelta(days=rng.randint(0, (hi - lo).days))).isoformat()

    def v_month(self, spec, values, parent, row_index, row_count):
        rng = self.rng
        year = self.year
        if parent is not None:  # implementation steps: one month after another
            if self.month_start is None:
                self.month_start = year * 12 + 11 - min(row_count, 10) - rng.randint(0, 1)
            lo = hi = self.month_start + row_index
        elif spec["name"] == "report_month":
            lo, hi = year * 12 + 2, year * 12 + 10
        else:
            lo, hi = year * 12, year * 12 + 11
        lo_c = _parse_month(spec.get("min"), None)
        hi_c = _parse_month(spec.get("max"), None)
        lo, hi = _clamp_range(lo, hi, lo_c, hi_c)
        return _month_text(rng.randint(lo, hi))

    def v_text(self, spec, values, parent, row_index, row_count):
        return self.fit(spec, self.text_candidate(spec, values, parent, row_index))

    def v_textarea(self, spec, values, parent, row_index, row_count):
        return self.fit(spec, self.textarea_candidate(spec, values, parent, row_index))

    # -- text vocabularies ---------------------------------------------------
    def text_candidate(self, spec, values, parent, row_index):
        rng = self.rng
        name = spec["name"]
        label = str(spec.get("label") or "")
        if parent is not None and name == "task":
            return self.step_task(row_index)
        if name in ("project_name", "matter_name"):
            return self.pick(_TITLES, "matter" if name == "matter_name" else None)
        if name == "secretary_title":
            if self.category == "organ":
                return rng.choice(("局党组书记、局长", "局机关党委书记", "委党组书记、主任"))
            return rng.choice(("村党总支书记、村委会主任", "村党支部书记", "村党委书记",
                               "村党总支书记"))
        if name == "topic_source":
            if self.category == "organ":
                return rng.choice(("县直机关工委", "县委组织部"))
            return rng.choice(("镇党委", "县委组织部", "镇党委组织办"))
        if name == "reform_type_other":
            return rng.choice(("村级财务公开", "党建引领信用村建设", "村级小微权力清单"))
        if name == "partners":
            return "、".join(rng.sample(_COMPANIES, rng.randint(1, 2)))
        if name == "position_name":
            return rng.choice(_POSITION_NAMES)
        if name == "institution":
            return rng.choice(_INSTITUTIONS)
        if name == "specialty":
            return rng.choice(_SPECIALTIES)
        if name == "email":
            return f"{rng.choice(_PINYIN)}{rng.choice(_PINYIN)}{rng.randint(1, 99)}" \
                   f"@{rng.choice(_MAIL_DOMAINS)}"
        if name == "post_village":
            return _village(rng)
        if name == "pair_village":
            return rng.choice(_PAIR_VILLAGES)
        if name == "course":
            return rng.choice(_COURSES)
        if name == "company":
            return rng.choice(_INTRODUCED)
        if name == "location":
            return rng.choice(_LOCATIONS)
        # Generic: guess from the label.
        if any(k in label for k in ("电话", "手机")):
            return _phone(rng)
        if "职务" in label:
            return rng.choice(("村党总支书记", "村委委员", "网格员", "驻村第一书记"))
        if any(k in label for k in ("企业", "公司", "合作社", "单位")):
            return rng.choice(_COMPANIES)
        if "村" in label:
            return _village(rng)
        if any(k in label for k in ("地点", "地址", "位置")):
            return rng.choice(_LOCATIONS)
        if any(k in label for k in ("项目", "名称", "事项", "标题")):
            return self.pick(_TITLES)
        if any(label.endswith(k) for k in ("人", "姓名", "书记", "员", "者")) or "姓名" in label:
            return _person(rng)
        return rng.choice(_GENERIC_SENTENCES).rstrip("。")

    def textarea_candidate(self, spec, values, parent, row_index):
        rng = self.rng
        name = spec["name"]
        if parent is not None and name == "task":
            return self.step_task(row_index)
        table = {
            "problem": _PROBLEMS, "goal": _GOALS, "measures": _MEASURES,
            "expected": _EXPECTED, "mechanism": _MECHANISMS, "replicable": _REPLICABLE,
            "service_list": _SERVICE_LISTS, "red_resources": _RED_RESOURCES,
            "done_tasks": _DONE_TASKS, "problems": _PROBLEM_NOTES, "next_plan": _NEXT_PLANS,
            "coordination_items": _COORDINATION, "completion": _COMPLETION,
            "results": _RESULTS, "unfinished": _UNFINISHED, "experience": _EXPERIENCE,
            "help_projects": _HELP_PROJECTS,
        }.get(name)
        if table is not None:
            return self.pick(table)
        if name == "content":
            return self.pick(_DEMANDS, values.get("category"))
        count = rng.randint(1, 3)
        return "".join(rng.sample(_GENERIC_SENTENCES, count))

    def step_task(self, row_index):
        if self.step_tasks is None:
            tasks = _STEP_TASKS.get(self.category) or _STEP_TASKS["dev"]
            self.step_tasks = list(tasks)
        if row_index < len(self.step_tasks):
            return self.step_tasks[row_index]
        return "持续推进项目实施，查漏补缺"

    # -- constraints -----------------------------------------------------------
    def fit(self, spec, text):
        """Make text satisfy min_length / max_length / pattern (generic fallback on failure)."""
        text = str(text).strip()
        max_len = spec.get("max_length")
        min_len = spec.get("min_length")
        pattern = spec.get("pattern")
        if pattern and not re.fullmatch(pattern, text):
            for _ in range(50):
                candidate = _from_regex(pattern, self.rng).strip()
                if re.fullmatch(pattern, candidate) and \
                        (max_len is None or len(candidate) <= max_len) and \
                        (min_len is None or len(candidate) >= min_len):
                    return candidate
            return None if not spec.get("required") else text
        if max_len is not None and len(text) > max_len:
            text = text[:max_len].rstrip() or text[:max_len]
        if min_len is not None and len(text) < min_len:
            filler = "，请尽快协调解决。"
            while len(text) < min_len:
                text += filler
            if max_len is not None:
                text = text[:max_len]
        return text


def _clamp_range(lo, hi, lo_c, hi_c):
    """Clip a typical [lo, hi] to the schema's [lo_c, hi_c]; fall back to the constraints."""
    if lo_c is not None:
        lo = max(lo, lo_c)
    if hi_c is not None:
        hi = min(hi, hi_c)
    if lo > hi:
        lo = lo_c if lo_c is not None else hi
        hi = hi_c if hi_c is not None else lo
        if lo > hi:
            lo = hi
    return lo, hi


def fake_answers(schema, rng):
    """Answers for ``schema`` drawn from ``rng`` (a ``random.Random``), in stored format.

    Hidden (show_if false), image and section fields are absent; every present value
    satisfies its field's type and constraints.
    """
    return _Faker(schema, rng).fill(schema.get("fields") or [])


def to_formdata(fields, answers, prefix=""):
    """What a browser would post for ``answers``: (name, value) pairs, the inverse of
    forms.builder.collect_answers (used by tests, seed-demo checks and the HTTP benchmark)."""
    pairs = []
    for spec in fields:
        name, ftype = spec["name"], spec["type"]
        value = answers.get(name)
        if ftype in ("section", "image") or value is None:
            continue
        key = prefix + name
        if ftype == "repeat":
            for i, row in enumerate(value):
                pairs += to_formdata(spec["fields"], row, f"{key}-{i}-")
        elif ftype == "multiselect":
            pairs += [(key, v) for v in value]
        elif ftype == "boolean":
            if value:
                pairs.append((key, "y"))
        else:
            pairs.append((key, str(value)))
    return pairs
