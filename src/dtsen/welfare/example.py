"""The `[welfare]` and `[programmes.*]` sections that `dtsen init` and `dtsen synth` write.

They name the four programmes the issue takes as examples, with rules as the ministries state
them (benefits are the 2024-25 amounts, rounded, per year):

pkh       Program Keluarga Harapan: desil 1-4, a child, an elder or a disabled member
sembako   BPNT / Kartu Sembako: desil 1-4, Rp 200,000 a month per family
pbi_jk    PBI Jaminan Kesehatan: desil 1-5, the premium (Rp 42,000 a month) per person
blt_lansia a BLT cash transfer for families headed by an elder in desil 1-3, with a quota
"""

from __future__ import annotations

WELFARE_TOML = """
[welfare]
# The proxy means test: trained on the survey's measured consumption per capita, applied to
# every family. `dtsen pmt predictors` lists the predictors; an empty list takes them all.
survey = "{survey}"
model = "auto"                # auto (held-out regions: the blend unless another is clearly better) | ols | boosted
                              # | asset_index | blend | external (with coefficients = "FILE.csv")
region_level = "province"     # one intercept shift per province (or "regency", "none")
flags = "calibrated"          # flag as many poor as the headcount estimate (or "threshold": under the line)
# headcounts = "kemiskinan_bps.csv"   # official shares: region,year,poor_share,extreme_share
min_region_families = 30      # thinner regions take the pooled model (recorded in the artefact)
poverty_line = 595000         # Rp per person per month (BPS, national)
extreme_line = 391000         # extreme poverty (US$2.15 a day, 2017 PPP)

[programmes.pkh]
description = "Program Keluarga Harapan: desil 1-4 dengan anak, lansia atau penyandang disabilitas"
deciles = [1, 4]
any_of = ["children", "elderly", "disabled"]
benefit = 3000000

[programmes.sembako]
description = "Program Sembako (BPNT): desil 1-4"
deciles = [1, 4]
benefit = 2400000

[programmes.pbi_jk]
description = "PBI Jaminan Kesehatan: desil 1-5, iuran per jiwa"
deciles = [1, 5]
unit = "person"
benefit = 504000

[programmes.blt_lansia]
description = "BLT lansia: keluarga desil 1-3 dengan kepala keluarga berusia 60 tahun ke atas"
deciles = [1, 3]
minimum = {{ head_age = 60 }}
quota = 500
benefit = 3600000
"""


def welfare_toml(survey: str) -> str:
    return WELFARE_TOML.format(survey=survey)
