"""Loading and validating sectors, companies and watchlists: file:line, suggestions, all at once."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from policywatch.errors import ConfigError
from policywatch.settings import Config
from policywatch.taxonomy import Taxonomy, load_taxonomy, load_taxonomy_files
from policywatch.watchlists import json_schema_text, load_watchlists


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def errors_of(exc: pytest.ExceptionInfo[ConfigError]) -> list[str]:
    return str(exc.value).splitlines()


def test_shipped_config_loads(config: Config, taxonomy: Taxonomy) -> None:
    assert len(taxonomy.sectors) >= 30
    assert len(taxonomy.companies) >= 150
    lists = load_watchlists(config, taxonomy=taxonomy)
    assert {"instant", "digest"} == {wl.mode for wl in lists}
    assert all(wl.channels for wl in lists)


def test_every_sector_has_english_and_chinese_terms(taxonomy: Taxonomy) -> None:
    for sector in taxonomy.sectors:
        assert sector.terms_en, sector.id
        assert sector.terms_zh, sector.id


def test_taxonomy_lookups(taxonomy: Taxonomy) -> None:
    catl = taxonomy.company("Contemporary Amperex")
    assert catl is not None
    assert catl.name_en == "CATL"
    assert taxonomy.company("宁德时代") is catl
    assert taxonomy.company("ｃａｔｌ") is catl  # width- and case-folded
    assert taxonomy.company("No Such Company") is None


WATCHLISTS = """\
watchlists:
  - name: ev
    sectors: [new-energy-vehicle]
    companies: [BYD, Tesler]
    channels: [analyst-emial]
  - name: ev
    keywords: [x]
    bodys: [MIIT]
  - name: bodies
    bodies: [MITT]
    mode: hourly
"""


def test_watchlist_errors_all_at_once_with_lines_and_suggestions(
    config_copy: Path, taxonomy: Taxonomy
) -> None:
    write(config_copy, "watchlists.yaml", WATCHLISTS)
    with pytest.raises(ConfigError) as exc:
        load_watchlists(Config(config_copy), taxonomy=taxonomy)
    lines = errors_of(exc)
    path = config_copy / "watchlists.yaml"
    # schema errors and the references of the readable entries together, in line order
    assert [line.split(": ")[0] for line in lines] == [
        f"{path}:{n}" for n in (3, 4, 5, 6, 8, 10, 11)
    ]
    assert lines[4].startswith(
        f"{path}:8: watchlists[1].bodys: unknown key (did you mean 'bodies'?)"
    )
    assert (
        "allowed: bodies, channels, companies, description, exclude, follow_ups, keywords"
        in lines[4]
    )
    assert lines[6].startswith(f"{path}:11: watchlists[2].mode:")
    assert lines[1].endswith("unknown company 'Tesler' (did you mean 'Tesla'?)")
    assert lines[3].endswith("duplicate watchlist name 'ev' (first on line 2)")
    assert lines[5].endswith("unknown body 'MITT' (did you mean 'MIIT'?)")


def test_reference_errors_name_line_and_closest_name(config_copy: Path, taxonomy: Taxonomy) -> None:
    write(
        config_copy,
        "watchlists.yaml",
        WATCHLISTS.replace("    bodys", "    bodies").replace("hourly", "digest"),
    )
    with pytest.raises(ConfigError) as exc:
        load_watchlists(Config(config_copy), taxonomy=taxonomy)
    path = config_copy / "watchlists.yaml"
    assert errors_of(exc) == [
        f"{path}:3: watchlists[0].sectors[0]: unknown sector 'new-energy-vehicle' "
        "(did you mean 'new-energy-vehicles'?)",
        f"{path}:4: watchlists[0].companies[1]: unknown company 'Tesler' (did you mean 'Tesla'?)",
        f"{path}:5: watchlists[0].channels[0]: unknown channel 'analyst-emial' "
        "(did you mean 'analyst-email'?)",
        f"{path}:6: watchlists[1].name: duplicate watchlist name 'ev' (first on line 2)",
        f"{path}:10: watchlists[2].bodies[0]: unknown body 'MITT' (did you mean 'MIIT'?)",
    ]


def test_missing_channels_file_reports_every_channel_reference(
    config_copy: Path, taxonomy: Taxonomy
) -> None:
    (config_copy / "channels.yaml").unlink()
    write(
        config_copy,
        "watchlists.yaml",
        "watchlists:\n  - name: a\n    keywords: [x]\n    channels: [ops]\n"
        "  - name: b\n    keywords: [y]\n",
    )
    with pytest.raises(ConfigError) as exc:
        load_watchlists(Config(config_copy), taxonomy=taxonomy)
    [line] = errors_of(exc)
    assert line.endswith("unknown channel 'ops' (channels.yaml not found next to watchlists.yaml)")
    assert ":4: watchlists[0].channels[0]" in line


def test_a_watchlist_needs_a_facet(config_copy: Path, taxonomy: Taxonomy) -> None:
    write(config_copy, "watchlists.yaml", "watchlists:\n  - name: empty\n    channels: [ops]\n")
    with pytest.raises(ConfigError, match=r":2: watchlists\[0\]: needs at least one of"):
        load_watchlists(Config(config_copy), taxonomy=taxonomy)


def test_taxonomy_duplicates_and_unknown_sectors(tmp_path: Path) -> None:
    sectors = write(
        tmp_path,
        "sectors.yaml",
        "sectors:\n"
        "  - {id: steel, name_en: Steel, name_zh: 钢铁, terms_en: [steelmaker]}\n"
        "  - {id: steel, name_en: Iron, name_zh: 铁, terms_zh: [铁矿石]}\n"
        "  - {id: Bad_Id, name_en: X, name_zh: 某, terms_en: [x]}\n",
    )
    companies = write(
        tmp_path,
        "companies.yaml",
        "companies:\n"
        "  - {name_en: Baowu, name_zh: 宝武, aliases: [Baosteel]}\n"
        "  - {name_en: Baoshan Steel, aliases: [BAOSTEEL], sectors: [stele]}\n",
    )
    with pytest.raises(ConfigError) as exc:
        load_taxonomy_files(sectors, companies)
    text = str(exc.value)
    assert f"{sectors}:4: sectors[2].id: String should match pattern" in text
    assert (
        f"{companies}:3: companies[1]: name or alias 'BAOSTEEL' is already used by 'Baowu'" in text
    )
    assert f"{companies}:3: companies[1].sectors[0]: unknown sector 'stele'" in text


def test_taxonomy_duplicate_sector_id(tmp_path: Path) -> None:
    sectors = write(
        tmp_path,
        "sectors.yaml",
        "sectors:\n"
        "  - {id: steel, name_en: Steel, name_zh: 钢铁, terms_en: [steelmaker]}\n"
        "  - {id: steel, name_en: Iron, name_zh: 铁, terms_zh: [铁矿石]}\n",
    )
    companies = write(tmp_path, "companies.yaml", "companies: []\n")
    with pytest.raises(ConfigError) as exc:
        load_taxonomy_files(sectors, companies)
    assert errors_of(exc) == [
        f"{sectors}:3: sectors[1].id: duplicate sector id 'steel' (first defined on line 2)"
    ]


def test_config_folder_without_taxonomy_uses_the_shipped_one(tmp_path: Path) -> None:
    assert len(load_taxonomy(Config(tmp_path)).sectors) >= 30


def test_committed_schema_is_the_generated_one(repo_root: Path) -> None:
    committed = (repo_root / "config" / "watchlists.schema.json").read_text(encoding="utf-8")
    assert committed == json_schema_text()
    schema = json.loads(committed)
    props = schema["$defs"]["Watchlist"]["properties"]
    assert props["mode"]["enum"] == ["instant", "digest"]
    assert schema["$defs"]["Watchlist"]["additionalProperties"] is False


def test_watchlists_file_points_editors_at_the_schema(repo_root: Path) -> None:
    first = (repo_root / "config" / "watchlists.yaml").read_text(encoding="utf-8").splitlines()[0]
    assert re.fullmatch(r"# yaml-language-server: \$schema=watchlists\.schema\.json", first)
