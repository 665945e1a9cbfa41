"""Name variant groups: spellings, short forms and transliterations of the *same* name.

A practitioner who types "Mohamed" must find the child recorded as "Muhammad", and one who types
"Shivaun" must find "Siobhan". Each group below is one name; its id is ``"v:" + first member``.
Groups are deliberately honest: they join spellings of one name, not related or translated names
(Yusuf is not merged with Joseph, Katarzyna not with Katherine). Where the English form is the
usual anglicisation of a Celtic form the brief asked for (Owen/Eoin, David/Dafydd) the English
form is first so its id coincides with the ``nicknames`` package's canonical name ("Dave" ->
"v:david" too).

Members are stored compact-folded (``analyzers.text.compact``): lower-case ASCII, no spaces.
A member may appear in more than one group when it is a short form of more than one name
("dami"); it then carries every group's id.
"""
from __future__ import annotations

from functools import lru_cache

from .text import compact, compact_token, tokens

_CACHE_SIZE = 1 << 16



# Arabic-origin names used both as given names and as family names in England.
_MOHAMMED = ("mohammed", "muhammad", "mohamed", "mohammad", "muhammed", "mohamad", "mohamud",
             "mohammod", "muhamed", "muhamad", "mahomed", "mohd")
_SHARED_ARABIC_GROUPS: tuple[tuple[str, ...], ...] = (
    ("ahmed", "ahmad", "ahmet", "ahamed", "ahmmed"),
    ("hussain", "hussein", "husain", "hossain", "husein", "hussien", "husayn", "hossein"),
    ("hassan", "hasan", "hassaan", "hasaan"),
    ("ali", "aly"),
    ("abdullah", "abdulla", "abdallah", "abdalla", "abdellah", "abdullahi"),
    ("abdulrahman", "abdurrahman", "abdirahman", "abdelrahman", "abdalrahman", "abdulrahmaan"),
    ("ibrahim", "ebrahim", "ibraheem", "ibrahima", "ibrahem"),
    ("yusuf", "yousef", "youssef", "yusef", "yousuf", "yousif", "yusif", "yussuf"),
    ("omar", "umar", "omer"),
    ("usman", "osman", "othman", "uthman", "usmaan"),
    ("ismail", "ismael", "esmail", "ismaeel", "ismaail"),
    ("tariq", "tarik", "tareq"),
    ("khalid", "khaled"),
    ("rashid", "rasheed", "rachid"),
    ("saeed", "said", "saied", "saeid"),
    ("syed", "sayed", "sayyid", "seyed"),
    ("mustafa", "mustapha", "mostafa", "moustafa"),
    ("mahmood", "mahmoud", "mahmud", "mehmood"),
    ("hamid", "hameed", "hamed"),
    ("karim", "kareem", "kerim"),
    ("rahim", "raheem"),
    ("ayub", "ayoub", "ayyub", "ayoob"),
    ("suleiman", "sulaiman", "suleyman", "sulayman", "sulaymaan"),
    ("yaqub", "yakub", "yacoub", "yaqoob", "yakoub"),
    ("musa", "moussa", "mousa", "moosa"),
    ("idris", "idrees", "idriss"),
    ("nasir", "nasser", "naser", "nassir"),
    ("farah", "farrah"),
)

GIVEN_NAME_GROUPS: tuple[tuple[str, ...], ...] = (
    _MOHAMMED + ("mo",),
    *_SHARED_ARABIC_GROUPS,
    # Arabic, Somali, South Asian given names
    ("abdul", "abdool", "abdel", "abdal", "abdoul"),
    ("fatima", "fatma", "fatimah", "fatuma", "fathima"),
    ("aisha", "ayesha", "aysha", "aishah", "aicha", "ayisha"),
    ("mariam", "maryam", "miriam", "maryum", "mariyam"),
    ("zainab", "zaynab", "zeinab", "zenab"),
    ("khadija", "khadijah", "kadija", "kadijah", "khadeeja", "khadeejah"),
    ("hamza", "hamzah", "hamzeh"),
    ("bilal", "belal"),
    ("yasmin", "yasmine", "yasmeen", "yazmin"),
    ("amina", "aminah", "ameena", "amena"),
    ("hafsa", "hafsah"),
    ("safiya", "safiyah", "safia", "saffiya"),
    ("sumaya", "sumayyah", "sumaiya", "sumayya"),
    ("zahra", "zahraa", "zehra"),
    ("noor", "nur", "nour"),
    ("layla", "laila", "leila", "leyla", "laylah", "lailah"),
    ("amir", "ameer"),
    ("imran", "emran"),
    ("zakariya", "zakaria", "zakariyya", "zakariah", "zakariyah"),
    ("yahya", "yahia", "yehia"),
    ("isa", "eesa", "issa", "esa"),
    ("parveen", "parvin", "perveen"),
    ("nasreen", "nasrin"),
    ("rukhsana", "ruksana", "roksana", "rokhsana"),
    ("rahima", "raheema"),
    ("sadia", "saadia", "sadiya", "saadiya"),
    ("tasnim", "tasneem"),
    ("sharmin", "sharmeen"),
    # Irish
    ("siobhan", "shivaun", "shevaun", "chevonne", "shivon", "chevon", "shevon", "shivonne"),
    ("niamh", "neve", "neave", "neeve", "nieve"),
    ("aoife", "eefa", "efa"),
    ("saoirse", "seersha", "searsha", "sersha"),
    ("sean", "shaun", "shawn"),
    ("sinead", "shinead"),
    ("ciara", "kiera", "keira", "ciarra", "keera", "kierra"),
    ("caoimhe", "keeva", "kweeva"),
    ("owen", "eoin", "owain"),
    ("oisin", "osheen"),
    ("padraig", "padraic", "podraig"),
    ("seamus", "shamus", "seumas", "seamas"),
    ("aisling", "ashling", "aislinn", "ashlinn"),
    ("grainne", "grania"),
    ("roisin", "rosheen"),
    ("orla", "orlagh", "orlaith"),
    ("eimear", "emer", "eimer", "eimhear"),
    ("maeve", "meabh", "meave"),
    ("clodagh", "cloda"),
    ("rory", "ruairi", "ruari", "ruaidhri", "ruairidh", "ruaridh", "rorie"),
    ("ciaran", "kieran", "kieren", "keiran", "kieron", "ciaron", "keiron"),
    ("cian", "kian"),
    ("conor", "connor", "conner", "konnor"),
    ("darragh", "daragh", "darach"),
    ("tadhg", "teague", "taig"),
    ("cathal", "cahal"),
    ("fionn", "finn"),
    ("cillian", "killian", "kilian", "cilian"),
    ("eamon", "eamonn", "eamun"),
    ("dermot", "diarmuid", "diarmaid", "dermott"),
    ("donal", "donall", "domhnall"),
    ("neil", "neal", "neale", "niall", "neill", "nial"),
    ("una", "oona", "oonagh"),
    # Welsh
    ("david", "dafydd", "dewi"),
    ("gareth", "garreth", "garath"),
    ("sian", "shan"),
    ("rhys", "reece", "reese", "rees"),
    ("llewellyn", "llewelyn", "llywelyn", "lewellyn"),
    ("gruffydd", "gruffudd", "griffith"),
    ("carys", "cerys", "ceris"),
    ("megan", "meghan", "meagan", "meaghan"),
    ("evan", "ieuan", "ifan"),
    # Scottish
    ("callum", "calum", "kallum", "kalum"),
    ("lachlan", "lachlann", "lochlan", "lochlann", "lauchlan"),
    ("mhairi", "vairi"),
    ("ian", "iain", "ean"),
    ("alastair", "alistair", "alasdair", "alister", "allister"),
    ("ewan", "euan", "ewen"),
    # English spellings
    ("katherine", "catherine", "kathryn", "katharine", "catharine", "kathrine", "cathryn"),
    ("stephen", "steven", "stephan"),
    ("jonathan", "jonathon", "johnathan", "johnathon"),
    ("philip", "phillip", "philipp", "filip"),
    ("jeffrey", "geoffrey", "jeffery", "geoffery"),
    ("sophia", "sofia"),
    ("isabel", "isabelle", "isobel", "isabell", "izabel", "izabelle"),
    ("hayley", "haley", "hailey", "haylee", "hayleigh", "hailee"),
    ("ashley", "ashleigh", "ashlee"),
    ("kayleigh", "kayley", "kaylee", "kaylie"),
    ("jayden", "jaden", "jaydon", "jaiden", "jaydan", "jadon"),
    ("aidan", "aiden", "ayden", "aydan", "aedan"),
    ("louis", "lewis"),
    ("zachary", "zackary", "zachery", "zakary", "zackery"),
    ("jacob", "jakob", "jakub"),
    ("nicholas", "nicolas", "nikolas", "nickolas"),
    ("michael", "micheal", "mikael"),
    ("daniel", "danial", "daniyal", "danyal"),
    ("caitlin", "katelyn", "kaitlyn", "caitlyn", "katelin", "kaitlin"),
    ("eleanor", "elinor", "eleanore", "elenor"),
    ("alicia", "alisha", "alesha"),
    # Polish, Ukrainian, Russian, Romanian
    ("alexander", "aleksander", "oleksandr", "aleksandr", "alexandr", "aleksandar", "alexandru"),
    ("wojciech", "wojtek", "voytek"),
    ("katarzyna", "kasia"),
    ("malgorzata", "gosia", "malgosia"),
    ("krzysztof", "krzys"),
    ("andrei", "andrey", "andrej", "andriy"),
    ("dmitri", "dmitry", "dimitri", "dmytro", "dimitry"),
    ("sergei", "sergey", "serhiy", "serghei"),
    ("yuri", "yury", "yuriy", "iurii"),
    ("natalia", "natalya", "nataliya"),
    ("yulia", "yuliya", "iuliia"),
    ("anastasia", "anastasiya", "anastazja"),
    ("ekaterina", "yekaterina", "kateryna"),
    ("tatiana", "tatyana", "tetiana", "tetyana"),
    ("victor", "viktor"),
    ("daria", "darya", "dariya"),
    # Nigerian (Yoruba, Igbo) full forms and their everyday short forms
    ("oluwaseun", "seun", "oluseun"),
    ("olumide", "mide"),
    ("chukwuemeka", "emeka"),
    ("oluwadamilare", "damilare", "dami"),
    ("oluwadamilola", "damilola", "dami"),
    ("oluwafemi", "femi"),
    ("oluwatosin", "tosin"),
    ("oluwakemi", "kemi"),
    ("oluwaseyi", "seyi"),
    ("adebayo", "bayo"),
    ("babatunde", "tunde"),
    ("olanrewaju", "lanre"),
    ("funmilayo", "funmi", "oluwafunmilayo"),
    ("chinonso", "nonso"),
    ("chiamaka", "amaka"),
)

FAMILY_NAME_GROUPS: tuple[tuple[str, ...], ...] = (
    _MOHAMMED,
    *_SHARED_ARABIC_GROUPS,
    # Bangladeshi and Pakistani family names
    ("chowdhury", "choudhury", "chaudhry", "chaudhary", "choudhary", "chowdhry", "chaudhri",
     "choudhry", "chowdhary"),
    ("begum", "begam"),
    ("miah", "meah"),
    ("uddin", "udin", "uddeen"),
    ("hoque", "haque", "huq", "haq"),
    ("rahman", "rehman"),
    ("qureshi", "quraishi", "qureishi", "kureshi"),
    ("siddiqui", "siddiqi", "siddique"),
    ("akhtar", "akhter", "akter", "aktar"),
    ("sheikh", "shaikh", "shaik", "sheik"),
    # Polish and Czech
    ("nowak", "novak"),
    # Portuguese-origin names common among Goan, Sri Lankan and Brazilian families
    ("dsouza", "desouza", "souza", "sousa", "desousa"),
    ("dsilva", "desilva", "dasilva", "silva"),
    ("dcosta", "decosta", "dacosta", "costa"),
    ("dmello", "demello", "mello"),
    ("dcruz", "decruz", "dacruz", "cruz"),
    ("rodrigues", "rodriguez"),
    ("pereira", "perera"),
    ("fernandes", "fernandez"),
    ("goncalves", "gonsalves"),
    # British and Irish spellings of one surname
    ("smith", "smyth", "smythe"),
    ("thompson", "thomson", "tomson", "tompson"),
    ("davies", "davis"),
    ("reid", "reed", "read", "reade"),
    ("gray", "grey"),
    ("phillips", "philips"),
    ("matthews", "mathews"),
    ("stephens", "stevens"),
    ("stephenson", "stevenson"),
    ("oneill", "oneil", "oneal"),
    ("obrien", "obryan", "obrian"),
    ("oconnor", "oconner"),
    ("kelly", "kelley"),
    ("walsh", "walshe", "welsh"),
    ("doherty", "docherty", "dougherty"),
    ("gallagher", "gallacher"),
    ("griffiths", "griffith", "gruffydd"),
    ("lloyd", "loyd"),
    ("rees", "reece", "rhys", "reese"),
)

# Polish feminine family names: Kowalska is Kowalski's wife or daughter.
_FEMININE_ENDINGS = (("dzka", "dzki"), ("cka", "cki"), ("ska", "ski"))
_MIN_STEM = 2  # "ska" alone is not a surname with a masculine form


def _index(groups: tuple[tuple[str, ...], ...]) -> dict[str, tuple[str, ...]]:
    index: dict[str, list[str]] = {}
    for group in groups:
        group_id = f"v:{group[0]}"
        for member in group:
            ids = index.setdefault(member, [])
            if group_id not in ids:
                ids.append(group_id)
    return {member: tuple(ids) for member, ids in index.items()}


@lru_cache(maxsize=1)
def _given_index() -> dict[str, tuple[str, ...]]:
    return _index(GIVEN_NAME_GROUPS)


@lru_cache(maxsize=1)
def _family_index() -> dict[str, tuple[str, ...]]:
    return _index(FAMILY_NAME_GROUPS)


@lru_cache(maxsize=1)
def _nickname_tables() -> tuple[frozenset[str], dict[str, tuple[str, ...]]]:
    """(canonical names, nickname -> sorted canonical names) from the nicknames package.

    Loaded on first use (~0.1 s), never at import time.
    """
    from nicknames import NickNamer

    namer = NickNamer()
    canonical_names = frozenset(compact_token(name) for name in namer.nickname_lookup)
    canonicals_of = {
        compact_token(nickname): tuple(sorted({compact_token(name) for name in names} - {""}))
        for nickname, names in namer.canonical_lookup.items()
    }
    return canonical_names, canonicals_of


# Short forms in everyday British use that the nicknames package (American, and older) lacks: "Katie" for
# Katherine, "Alfie" for Alfred, "Izzy" for Isabella, "Kuba" for Jakub. A short form takes the ids of every
# full name it stands for, and no full name takes another's: Charlie is Charles and Charlotte, yet Charles is
# never Charlotte. Full names here are compact-folded and may be members of the groups above.
DIMINUTIVES: dict[str, tuple[str, ...]] = {
    # English
    "katie": ("katherine",), "kat": ("katherine",), "cath": ("katherine",), "kit": ("christopher", "katherine"),
    "izzy": ("isabella", "isabel"), "izzie": ("isabella", "isabel"), "issy": ("isabella", "isabel"),
    "lexi": ("alexandra",), "lexie": ("alexandra",), "sasha": ("alexandra", "alexander"),
    "xander": ("alexander",), "zander": ("alexander",),
    "charlie": ("charles", "charlotte"), "chas": ("charles",), "lottie": ("charlotte",),
    "olly": ("oliver",), "ollie": ("oliver", "olivia"), "liv": ("olivia",), "livvy": ("olivia",),
    "livi": ("olivia",), "benji": ("benjamin",), "hattie": ("harriet",), "hatty": ("harriet",),
    "alfie": ("alfred",), "alf": ("alfred",), "cal": ("callum",), "finn": ("finley", "finlay"),
    "jay": ("jayden", "jason"), "liam": ("william",), "florrie": ("florence",), "flo": ("florence",),
    "tilly": ("matilda",), "tillie": ("matilda",), "tilda": ("matilda",), "millie": ("amelia", "millicent"),
    "gracie": ("grace",), "rosie": ("rose",), "josie": ("josephine",), "artie": ("arthur",),
    "archie": ("archibald",), "teddy": ("edward", "theodore"), "georgie": ("georgia", "georgina"),
    "frankie": ("francesca", "frances", "francis"), "bertie": ("albert", "herbert"), "reggie": ("reginald",),
    "nell": ("eleanor", "helen"), "nellie": ("eleanor", "helen"), "elsie": ("elspeth", "elizabeth"),
    # Scottish, Welsh, Irish
    "ally": ("alastair", "alison"), "dai": ("david",), "gruff": ("gruffydd",), "paddy": ("patrick", "padraig"),
    # Polish, West African, Somali, Arabic
    "kuba": ("jakub",), "olek": ("aleksander",), "alek": ("aleksander",), "zuzia": ("zuzanna",),
    "tope": ("temitope",), "temi": ("temitope",), "ayo": ("ayodele",), "ada": ("adaeze",),
    "abdi": ("abdirahman", "abdullahi"),
}


def _add(ids: list[str], new: tuple[str, ...] | list[str]) -> None:
    for item in new:
        if item not in ids:
            ids.append(item)


@lru_cache(maxsize=_CACHE_SIZE)
def given_variant_ids(token: str | None) -> tuple[str, ...]:
    """Group ids for a given-name token: curated groups, then the nicknames package, then DIMINUTIVES.

    From the package a token gets its canonical names ("alex" -> "v:alexander", ...) and itself
    when it is canonical ("alexander" -> "v:alexander"), so a short form and its full form share an id.
    """
    folded = compact_token(token)
    if len(folded) < 2:
        return ()
    ids = list(_full_name_ids(folded))
    for full_name in DIMINUTIVES.get(folded, ()):
        _add(ids, _full_name_ids(full_name))
    return tuple(ids)


def _full_name_ids(folded: str) -> tuple[str, ...]:
    """Ids from the curated groups and the nicknames package alone (no diminutive expansion)."""
    ids: list[str] = []
    _add(ids, _given_index().get(folded, ()))
    canonical_names, canonicals_of = _nickname_tables()
    if folded in canonical_names:
        _add(ids, [f"v:{folded}"])
    _add(ids, [f"v:{canonical}" for canonical in canonicals_of.get(folded, ())])
    if not ids and folded in _DIMINUTIVE_FULL_NAMES:  # a full name known only here is its own group
        ids.append(f"v:{folded}")
    return tuple(ids)


_DIMINUTIVE_FULL_NAMES = frozenset(full for fulls in DIMINUTIVES.values() for full in fulls)


def masculine_form(token: str | None) -> str | None:
    """'kowalska' -> 'kowalski', 'nowicka' -> 'nowicki'; None when not a Polish feminine form."""
    folded = compact_token(token)
    for feminine, masculine in _FEMININE_ENDINGS:
        if folded.endswith(feminine) and len(folded) - len(feminine) >= _MIN_STEM:
            return folded[: -len(feminine)] + masculine
    return None


def _is_masculine_form(folded: str) -> bool:
    return any(folded.endswith(masculine) and len(folded) - len(masculine) >= _MIN_STEM
               for _, masculine in _FEMININE_ENDINGS)


@lru_cache(maxsize=_CACHE_SIZE)
def family_variant_ids(token: str | None) -> tuple[str, ...]:
    """Group ids for a family-name token: curated groups and the Polish -ska/-ski rule.

    The masculine form is the shared id, so "Kowalska" and "Kowalski" both give "v:kowalski".
    The nicknames package is not used: it describes given names.
    """
    folded = compact_token(token)
    if len(folded) < 2:
        return ()
    ids: list[str] = []
    _add(ids, _family_index().get(folded, ()))
    masculine = masculine_form(folded)
    if masculine:
        _add(ids, [f"v:{masculine}"])
        _add(ids, _family_index().get(masculine, ()))
    elif _is_masculine_form(folded):
        _add(ids, [f"v:{folded}"])  # already masculine: kowalski -> v:kowalski
    return tuple(ids)


def _variant_ids(name: str | None, kind: str) -> set[str]:
    if kind not in ("given", "family"):
        raise ValueError(f"kind must be 'given' or 'family', not {kind!r}")
    lookup = given_variant_ids if kind == "given" else family_variant_ids
    ids: set[str] = set()
    parts = (compact(name), *tokens(name))
    for part in parts:
        ids.update(lookup(part))
    return ids


def are_variants(a: str | None, b: str | None, kind: str = "given") -> bool:
    """True when a and b are the same name (equal when folded, or sharing a variant group id)."""
    if kind not in ("given", "family"):
        raise ValueError(f"kind must be 'given' or 'family', not {kind!r}")
    first, second = compact(a), compact(b)
    if not first or not second:
        return False
    if first == second:
        return True
    return bool(_variant_ids(a, kind) & _variant_ids(b, kind))
