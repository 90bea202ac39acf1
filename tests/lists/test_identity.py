"""Document identity (DESIGN 3.6): 文号 normalisation, identities, draft and final linking."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parsers.identity import (
    doc_number_key,
    document_identity,
    family_key,
    identity_url,
    is_draft,
    normalise_doc_number,
    title_stem,
)

# Every 文号 example of SITES.md §2-§12, as written there or as the sites write them.
SITES_EXAMPLES = [
    ("工信厅政法函〔2024〕328号", "工信厅政法函〔2024〕328号"),
    ("发改价格〔2025〕136号", "发改价格〔2025〕136号"),
    ("发改气候〔2017〕343号", "发改气候〔2017〕343号"),
    ("财建〔2014〕838号", "财建〔2014〕838号"),
    ("宁政办发〔2022〕52号", "宁政办发〔2022〕52号"),
    ("税委会[2000]17号", "税委会〔2000〕17号"),
    ("市场监管总局令第26号", "市场监管总局令第26号"),
    ("三部门令第5号", "三部门令第5号"),
    ("公告2025年第18号", "公告2025年第18号"),
    ("商务部公告2024年第33号", "商务部公告2024年第33号"),
    ("商务部 海关总署公告2025年第18号", "商务部海关总署公告2025年第18号"),
    ("国家互联网信息办公室令第12号", "国家互联网信息办公室令第12号"),
    ("国市监法规〔2024〕3号", "国市监法规〔2024〕3号"),
    ("环办固体〔2024〕12号", "环办固体〔2024〕12号"),
    ("税委会公告〔2024〕10号", "税委会公告〔2024〕10号"),
    ("国能发规划〔2025〕15号", "国能发规划〔2025〕15号"),
]
# The spellings the brief and the sites use for one number.
VARIANTS = [
    ("工信厅政法函［2024］328号", "工信厅政法函〔2024〕328号"),
    ("工信厅政法函（2024）328号", "工信厅政法函〔2024〕328号"),
    ("工信厅政法函【2024】328号", "工信厅政法函〔2024〕328号"),
    ("工信厅政法函[2024]328号", "工信厅政法函〔2024〕328号"),
    ("国办发﹝2024﹞12号", "国办发〔2024〕12号"),
    ("工信厅政法函〔２０２４〕３２８号", "工信厅政法函〔2024〕328号"),
    ("工信厅政法函 〔2024〕\u3000328 号", "工信厅政法函〔2024〕328号"),
    ("工信部联科〔2024〕08号", "工信部联科〔2024〕8号"),
    ("第7号令", "令第7号"),
    ("令第7号", "令第7号"),
    ("工业和信息化部第7号令", "工业和信息化部令第7号"),
    ("中华人民共和国工业和信息化部令 第 7 号", "工业和信息化部令第7号"),
    ("交通运输部令2023年第5号", "交通运输部令2023年第5号"),
    ("交通运输部令２０２３年第５号", "交通运输部令2023年第5号"),
    ("国家互联网信息办公室令第十二号", "国家互联网信息办公室令第12号"),
    ("市场监管总局令第二十六号", "市场监管总局令第26号"),
    ("2025年第18号公告", "公告2025年第18号"),
    ("商务部公告二〇二五年第十八号", "商务部公告2025年第18号"),
    ("国家市场监督管理总局通告2024年第5号", "国家市场监督管理总局通告2024年第5号"),
    ("发文字号：工信部科〔2024〕251号", "工信部科〔2024〕251号"),
]


@pytest.mark.parametrize(("raw", "expected"), SITES_EXAMPLES + VARIANTS)
def test_normalise_doc_number(raw: str, expected: str) -> None:
    assert normalise_doc_number(raw) == expected


@pytest.mark.parametrize(
    "raw", [None, "", "无", "2024年9月3日", "第7号", "〔2024〕", "关于印发《办法》的通知"]
)
def test_text_without_a_doc_number_gives_none(raw: str | None) -> None:
    assert normalise_doc_number(raw) is None
    assert doc_number_key(raw) is None


@given(st.sampled_from([e for _, e in SITES_EXAMPLES + VARIANTS]))
def test_normalising_twice_changes_nothing(number: str) -> None:
    assert normalise_doc_number(number) == number


MIIT_ON_GOVCN = "https://www.gov.cn/zhengce/zhengceku/202410/content_6978123.htm"
MIIT_OWN = (
    "https://wap.miit.gov.cn/zwgk/zcwj/wjfb/tz/art/2024/art_0f1e2d3c4b5a69788796a5b4c3d2e1f0.html"
)


def test_gov_cn_and_the_ministry_site_give_one_identity() -> None:
    on_govcn = document_identity("MIIT", "工信厅政法函〔2024〕328号", MIIT_ON_GOVCN)
    on_miit = document_identity("MIIT", "工信厅政法函［２０２４］３２８号", MIIT_OWN)
    assert on_govcn == on_miit == "doc:MIIT:工信厅政法函〔2024〕328号"


def test_announcements_and_orders_are_keyed_by_issuer_and_series() -> None:
    a = document_identity("MOFCOM", "商务部 海关总署公告2025年第18号", MIIT_ON_GOVCN)
    b = document_identity(
        "MOFCOM", "中华人民共和国商务部公告2025年第18号", "https://www.mofcom.gov.cn/x"
    )
    assert a == b == "doc:MOFCOM:公告2025年第18号"
    assert document_identity("MIIT", "第7号令", "u") == document_identity(
        "MIIT", "中华人民共和国工业和信息化部令第7号", "v"
    )


@pytest.mark.parametrize(
    ("one", "other"),
    [
        (("MIIT", "工信厅科函〔2024〕251号"), ("MIIT", "工信部科〔2024〕251号")),  # two series
        (("MIIT", "工信厅科函〔2024〕251号"), ("MIIT", "工信厅科函〔2023〕251号")),  # two years
        (("MIIT", "令第7号"), ("NDRC", "令第7号")),  # every ministry has an order No. 7
        (("MOFCOM", "公告2025年第18号"), ("MOFCOM", "公告2024年第18号")),
        (("MOT", "交通运输部令2023年第5号"), ("MOT", "交通运输部令第5号")),
    ],
)
def test_different_documents_keep_different_identities(
    one: tuple[str, str], other: tuple[str, str]
) -> None:
    assert document_identity(*one, "https://a/") != document_identity(*other, "https://a/")


def test_without_a_doc_number_or_issuer_the_url_decides_with_mirrors_folded() -> None:
    path = "/zwgk/zcwj/wjfb/tz/art/2024/art_0f1e2d3c4b5a69788796a5b4c3d2e1f0.html"
    www = "https://www.miit.gov.cn" + path
    assert document_identity("MIIT", None, MIIT_OWN + "?xxgkhide=1") == f"url:{www}"
    assert (
        document_identity(None, "工信厅政法函〔2024〕328号", "http://miit.gov.cn" + path)
        == f"url:{www}"
    )
    assert document_identity("MIIT", "没有文号", www) == f"url:{www}"
    assert identity_url("http://m.mofcom.gov.cn/article/b/e/202110/1.shtml") == (
        "https://www.mofcom.gov.cn/article/b/e/202110/1.shtml"
    )
    assert identity_url("https://m.example.com/a") == "https://m.example.com/a"


# (draft, final): each draft and its final version must link.
LINKED = [
    (
        "工业和信息化部关于公开征求《工业领域碳达峰碳中和标准体系建设指南（征求意见稿）》意见的通知",
        "工业和信息化部关于印发《工业领域碳达峰碳中和标准体系建设指南》的通知",
    ),
    (
        "国家互联网信息办公室关于《人工智能生成合成内容标识办法（征求意见稿）》公开征求意见的通知",
        "人工智能生成合成内容标识办法",
    ),
    (
        "《网络交易平台规则监督管理办法（征求意见稿）》",
        "市场监管总局关于发布《网络交易平台规则监督管理办法》的公告",
    ),
    (
        "工业和信息化部关于推进5G轻量化（RedCap）技术演进和应用创新发展的通知（征求意见稿）",
        "工业和信息化部关于推进5G轻量化（RedCap）技术演进和应用创新发展的通知",
    ),
    ("关于征求《电力市场运行基本规则（修订草案征求意见稿）》意见的函", "电力市场运行基本规则"),
    ("中华人民共和国矿产资源法（修订草案）", "中华人民共和国矿产资源法"),
    (
        "国家发展改革委关于《产业结构调整指导目录（2025年本，征求意见稿）》公开征求意见的公告",
        "国家发展改革委关于印发《产业结构调整指导目录（2025年本）》的通知",
    ),
    (
        "生态环境部办公厅关于征求《排污许可证申请与核发技术规范 锂离子电池工业（征求意见稿）》意见的通知",
        "关于发布《排污许可证申请与核发技术规范　锂离子电池工业》的公告",
    ),
    (
        "公开征求对《数据安全技术 数据分类分级规则（征求意见稿）》的意见",
        "数据安全技术 数据分类分级规则",
    ),
]
# (draft, other): related titles that are not the draft's final version.
NOT_LINKED = [
    (
        "关于公开征求《新能源汽车动力电池回收利用管理办法（征求意见稿）》意见的通知",
        "关于印发《新能源汽车动力电池回收利用管理办法实施细则》的通知",
    ),
    (
        "《2025年工业和信息化标准工作要点（征求意见稿）》",
        "关于印发《2024年工业和信息化标准工作要点》的通知",
    ),
    (
        "关于《数据出境安全评估办法（征求意见稿）》公开征求意见的通知",
        "《数据出境安全评估办法》解读",
    ),
    (
        "关于《数据出境安全评估办法（征求意见稿）》公开征求意见的通知",
        "关于《数据出境安全评估办法》的解读",
    ),
    ("《产业结构调整指导目录（2025年本，征求意见稿）》", "产业结构调整指导目录（2019年本）"),
]


@pytest.mark.parametrize(("draft", "final"), LINKED)
def test_a_draft_links_to_its_final_version(draft: str, final: str) -> None:
    assert is_draft(draft)
    assert not is_draft(final)
    assert title_stem(draft) == title_stem(final)
    assert family_key("MIIT", draft) == family_key("MIIT", final)


@pytest.mark.parametrize(("draft", "other"), NOT_LINKED)
def test_related_titles_do_not_link(draft: str, other: str) -> None:
    assert title_stem(draft) != title_stem(other)


def test_the_same_stem_from_another_issuer_does_not_link() -> None:
    draft, final = LINKED[0]
    assert family_key("MIIT", draft) != family_key("SAMR", final)


@pytest.mark.parametrize(
    "title",
    [
        "关于印发《关于加快推动制造业绿色化发展的指导意见》的通知",
        "国家发展改革委关于2024年国民经济和社会发展计划执行情况与2025年计划草案的报告",
        "国务院关于修改和废止部分行政法规的决定",
        "工业和信息化部关于进一步加强新能源汽车企业安全体系建设的指导意见",
        "市场监管总局关于公开征集2025年度立法项目建议的公告",
    ],
)
def test_final_documents_are_not_drafts(title: str) -> None:
    assert not is_draft(title)


@pytest.mark.parametrize(
    "title",
    [
        "网络数据安全管理条例（征求意见稿）",
        "关于征求对《机动车排放召回管理规定》修订意见的函",
        "中华人民共和国能源法（草案）",
        "电子信息产品污染控制管理办法（送审稿）",
        "国家能源局综合司公开征求《煤矿智能化建设指南》意见",
    ],
)
def test_drafts_and_calls_for_comments_are_drafts(title: str) -> None:
    assert is_draft(title)


@pytest.mark.parametrize(
    ("title", "stem"),
    [
        ("关于公开征求《X（征求意见稿）》意见的通知", "X"),
        ("关于印发《X》的通知", "X"),
        ("《X（征求意见稿）》", "X"),
        ("工业和信息化部办公厅关于印发《X》的通知", "X"),
        ("国务院办公厅关于转发国家发展改革委《关于X的意见》的通知", "关于X的意见"),
        ("工业和信息化部关于推进X的指导意见（征求意见稿）", "关于推进X的指导意见"),
        ("关于《X》的解读", "关于《X》的解读"),
    ],
)
def test_title_stem_removes_wrappers_and_markers(title: str, stem: str) -> None:
    assert title_stem(title) == stem
