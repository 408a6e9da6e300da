"""Known campaigns: where they were released, whom Twitter attributed them to,
what they did, and the figures announced with them.

Sources: the dataset overview (campaign descriptions by country) and the
release table and announced figures in TEI-FORMAT.md. Descriptions are our own
words. Announced figures come from different sources that disagree by a
little; they are shown beside the loaded figures, never used to check them.
"""
from dataclasses import dataclass


@dataclass(frozen=True)
class Campaign:
    name: str
    release: str  # the bucket's release folder, YYYY_MM
    country: str  # country or attribution
    description: str
    announced_accounts: int = None
    announced_tweets: int = None
    synthetic: bool = False

    @property
    def release_date(self):
        """The release month as `YYYY-MM` (the folder names no day)."""
        return self.release.replace("_", "-") if self.release else None


_RUSSIA_IRA = (
    "Accounts Twitter linked to Russia's Internet Research Agency (IRA), the "
    "operation its chief executive testified about in 2018: divisive political "
    "themes, above all around the 2016 US election."
)
_IRAN = (
    "Accounts Twitter attributed to an Iranian state-backed influence campaign, "
    "pushing narratives favourable to the Iranian government."
)
_VENEZUELA = (
    "Accounts attributed to a Venezuelan campaign; Twitter described it as a "
    "foreign campaign of spammy content focused on divisive political themes."
)
_CHINA = (
    "Accounts attributed to the People's Republic of China, tweeting mostly in "
    "Chinese and spreading geopolitical narratives favourable to the Communist "
    "Party of China, including deceptive narratives about the political "
    "situation in Hong Kong."
)


def _c(name, release, country, description, accounts=None, tweets=None):
    return Campaign(name, release, country, description, accounts, tweets)


CAMPAIGNS = {
    c.name: c
    for c in [
        _c("ira", "2018_10", "Russia (Internet Research Agency)", _RUSSIA_IRA, 3841, 9_040_000),
        _c("iranian", "2018_10", "Iran", _IRAN + " One of the first two sets released, in October 2018.", 770, 1_120_000),
        _c("iran_201901_1", "2019_01", "Iran", _IRAN, 2617),
        _c("russia_201901_1", "2019_01", "Russia", "Accounts Twitter linked to Russia, possibly to the Internet Research Agency.", 418),
        _c("bangladesh_201901_1", "2019_01", "Bangladesh", "Bengali-language accounts identified in 2019, focused on regional political themes."),
        _c("venezuela_201901_1", "2019_01", "Venezuela", _VENEZUELA, 1196),
        _c("venezuela_201901_2", "2019_01", "Venezuela", _VENEZUELA, 764),
        _c("iran_201906_1", "2019_06", "Iran", _IRAN, 1666),
        _c("iran_201906_2", "2019_06", "Iran", _IRAN, 248),
        _c("iran_201906_3", "2019_06", "Iran", _IRAN, 2865),
        _c("russia_201906_1", "2019_06", "Russia", "Accounts Twitter linked to Russia, released in June 2019."),
        _c("catalonia_201906_1", "2019_06", "Spain (Catalonia)", "Accounts associated with the Catalan independence movement, spreading content about the Catalan referendum.", 130),
        _c("venezuela_201906_1", "2019_06", "Venezuela", _VENEZUELA),
        _c("china_082019_1", "2019_08", "China", _CHINA),
        _c("china_082019_2", "2019_08", "China", _CHINA),
        _c("china_082019_3", "2019_08", "China", _CHINA, 4301),
        _c("ecuador_082019_1", "2019_08", "Ecuador", "Accounts attributed to a campaign in Ecuador, released in September 2019.", 1019),
        _c("egypt_uae_082019_1", "2019_08", "Egypt and UAE", "Accounts attributed to a campaign run from Egypt and the United Arab Emirates.", ),
        _c("saudi_arabia_082019_1", "2019_08", "Saudi Arabia", "Accounts attributed to a Saudi Arabian state-backed campaign."),
        _c("spain_082019_1", "2019_08", "Spain", "Accounts attributed to a campaign in Spain, released in September 2019.", 259),
        _c("uae_082019_1", "2019_08", "United Arab Emirates", "Accounts attributed to a campaign run from the United Arab Emirates.", 4250),
        _c("saudi_arabia_112019", "2019_11", "Saudi Arabia", "Accounts attributed to a Saudi Arabian state-backed campaign, released in December 2019.", 5929),
        _c("ghana_nigeria_032020", "2020_03", "Ghana and Nigeria", "Accounts operated from Ghana and Nigeria, released in March 2020."),
        _c("egypt_022020", "2020_04", "Egypt", "The El Fagr network: a media group created inauthentic accounts to amplify messages critical of Iran, Qatar and Turkey; Twitter said it appeared to take direction from the Egyptian government.", 2541, 7_900_000),
        _c("honduras_022020", "2020_04", "Honduras", "Accounts attributed to a campaign in Honduras supporting the government.", 3104, 1_170_000),
        _c("indonesia_022020", "2020_04", "Indonesia", "Accounts attributed to a campaign in Indonesia.", 795, 2_700_000),
        _c("sa_eg_ae_022020", "2020_04", "Saudi Arabia, Egypt and UAE", "A network operated across Saudi Arabia, Egypt and the United Arab Emirates.", 5350, 36_500_000),
        _c("serbia_022020", "2020_04", "Serbia", "Accounts attributed to a campaign in Serbia promoting the ruling party; the largest set by tweets.", 8558, 43_100_000),
        _c("china_052020", "2020_05", "China", _CHINA, 23750, 348_608),
        _c("russia_052020", "2020_05", "Russia", "Accounts Twitter linked to Russia, released in June 2020.", 1152, 3_430_000),
        _c("turkey_052020", "2020_05", "Turkey", "Accounts using coordinated inauthentic activity to amplify political narratives favourable to the AK Parti and strong support for President Erdogan.", 7340, 36_900_000),
        _c("cuba_082020", "2020_08", "Cuba", "Accounts attributed to a campaign in Cuba supporting the government.", 526, 4_800_000),
        _c("qatar_082020", "2020_08", "Qatar", "Accounts attributed to a campaign linked to Qatar.", 33, 220_000),
        _c("ira_092020", "2020_09", "Russia (Internet Research Agency)", "A small network of accounts Twitter linked to the Internet Research Agency, released in September 2020.", 5, 1368),
        _c("iran_092020", "2020_09", "Iran", _IRAN, 104),
        _c("thailand_092020", "2020_09", "Thailand", "Accounts attributed to a campaign in Thailand, released in October 2020.", 926, 21_385),
        _c("armenia_202012", "2020_12", "Armenia", "Accounts created to advance narratives targeting Azerbaijan and geostrategically favourable to the Armenian government.", 35, 72_960),
        _c("GRU_202012", "2020_12", "Russia (GRU)", "Accounts Twitter linked to Russian military intelligence (GRU).", 69, 26_762),
        _c("IRA_202012", "2020_12", "Russia (Internet Research Agency)", "Accounts Twitter linked to the Internet Research Agency, released in December 2020.", 31, 68_914),
        _c("iran_202012", "2020_12", "Iran", _IRAN, 238, 560_571),
        _c("CNHU_0621", "2021_12", "China", _CHINA),
        _c("CNCC_0621", "2021_12", "China", _CHINA),
        _c("MX_0621", "2021_12", "Mexico", "Accounts attributed to a campaign in Mexico, released in December 2021."),
        _c("REA_0621", "2021_12", "Russia", "Accounts Twitter linked to Russia, released in December 2021."),
        _c("RNA_0621", "2021_12", "Russia", "Accounts Twitter linked to Russia, released in December 2021."),
        _c("Tanzania_0621", "2021_12", "Tanzania", "Accounts attributed to a campaign in Tanzania, released in December 2021."),
        _c("uganda_0621", "2021_12", "Uganda", "Accounts attributed to a campaign in Uganda, released in December 2021."),
        _c("Venezuela_0621", "2021_12", "Venezuela", _VENEZUELA),
    ]
}

_BY_LOWER = {name.lower(): campaign for name, campaign in CAMPAIGNS.items()}

SYNTHETIC_PREFIX = "synthetic_"


def lookup(name, release=None):
    """The catalogue entry for a campaign; an unknown one still gets one."""
    known = CAMPAIGNS.get(name) or _BY_LOWER.get(name.lower())
    if known:
        return known
    if name.lower().startswith(SYNTHETIC_PREFIX):
        return Campaign(
            name,
            release,
            "Synthetic sample",
            "SYNTHETIC: invented accounts and tweets bundled with datasette-tei "
            "to show the real file layouts. Not real data.",
            synthetic=True,
        )
    return Campaign(name, release, None, None)
