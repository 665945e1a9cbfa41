"""Synthetic demo data for ContactPoint: children, carers, services and source records.

Pure and deterministic: each generator owns a ``random.Random(seed)`` and a Faker instance
seeded with ``seed_instance``, so the same (n, seed, today) yields the same children in any
process, whatever the hash seed. Every person is invented; contact details use reserved
``.example`` domains and Ofcom drama numbers.
"""
from __future__ import annotations

import datetime
import functools
import unicodedata
from random import Random
from typing import Iterator, NamedTuple

from faker import Faker

from analyzers import clock

UTC = datetime.timezone.utc

# --- Rates (per child unless stated) -------------------------------------------------------
GENDER_WEIGHTS = (("female", 48.5), ("male", 48.5), ("other", 1.0), ("unknown", 2.0))
MIDDLE_NAME_COUNT_WEIGHTS = ((0, 45), (1, 45), (2, 10))
DOUBLE_BARRELLED_RATE = 0.05
SHIELDED_RATE = 0.01
HOME_EDUCATED_RATE = 0.02          # school-age children with no school
FLAT_RATE = 0.15
ALIAS_RATE = 0.10
CARER_COUNT_WEIGHTS = ((1, 35), (2, 65))
CARER_EMAIL_RATE = 0.7
INVOLVEMENT_COUNT_WEIGHTS = ((1, 20), (2, 30), (3, 28), (4, 14), (5, 8))   # mean ~2.6
ENDED_INVOLVEMENT_RATE = 0.4
SENSITIVE_RATE = 0.04              # per involvement; nets ~3% as under-4s are never eligible
LEAD_PROFESSIONAL_RATE = 0.30
CAF_RATE = 0.10                    # per involvement
INFO_TO_SHARE_RATE = 0.25
ASSESSMENT_RATE = 0.40
SOURCE_COUNT_WEIGHTS = ((1, 35), (2, 45), (3, 20))
# Applied to source records after the first only; together they leave ~62% with the exact name.
NAME_VARIATION_RATE = 0.35
NAME_SWAP_RATE = 0.02
DOB_TRANSPOSE_RATE = 0.05          # of records whose DOB still makes sense transposed: ~2% overall
GENDER_UNKNOWN_RATE = 0.03
POSTCODE_MISSING_RATE = 0.08
POSTCODE_PREVIOUS_RATE = 0.05

MOBILE_PREFIX = "07700 900"        # Ofcom drama mobile range
NO_AREA_PREFIX = "01632 960"       # Ofcom drama range with no geographic area
LONDON_PREFIX = "020 7946 0"
POSTCODE_INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"   # letters Royal Mail uses in the inward code

# (ONS code, name, phone prefix, ((town, postcode area, highest district number), ...))
_LA_DATA = (
    ("E09000033", "Westminster", LONDON_PREFIX, (("London", "W", 14), ("London", "SW", 20))),
    ("E09000007", "Camden", LONDON_PREFIX, (("London", "NW", 11), ("London", "WC", 2))),
    ("E09000012", "Hackney", LONDON_PREFIX, (("London", "E", 20), ("London", "N", 22))),
    ("E09000030", "Tower Hamlets", LONDON_PREFIX, (("London", "E", 20),)),
    ("E09000025", "Newham", LONDON_PREFIX, (("London", "E", 20),)),
    ("E09000028", "Southwark", LONDON_PREFIX, (("London", "SE", 28),)),
    ("E09000005", "Brent", LONDON_PREFIX, (("London", "NW", 11), ("Wembley", "HA", 9))),
    ("E08000035", "Leeds", "0113 496 0", (("Leeds", "LS", 29),)),
    ("E08000032", "Bradford", NO_AREA_PREFIX, (("Bradford", "BD", 22), ("Keighley", "BD", 22))),
    ("E08000003", "Manchester", "0161 496 0", (("Manchester", "M", 40),)),
    ("E08000025", "Birmingham", "0121 496 0", (("Birmingham", "B", 99),)),
    ("E08000012", "Liverpool", "0151 496 0", (("Liverpool", "L", 38),)),
    ("E08000019", "Sheffield", "0114 496 0", (("Sheffield", "S", 36),)),
    ("E08000021", "Newcastle upon Tyne", "0191 498 0", (("Newcastle upon Tyne", "NE", 15),)),
    ("E06000018", "Nottingham", "0115 496 0", (("Nottingham", "NG", 11),)),
    ("E06000016", "Leicester", "0116 496 0", (("Leicester", "LE", 5),)),
    ("E06000023", "Bristol", "0117 496 0", (("Bristol", "BS", 16),)),
    ("E06000010", "Kingston upon Hull", NO_AREA_PREFIX, (("Hull", "HU", 9),)),
    ("E06000026", "Plymouth", NO_AREA_PREFIX, (("Plymouth", "PL", 9),)),
    ("E10000016", "Kent", NO_AREA_PREFIX,
     (("Maidstone", "ME", 20), ("Canterbury", "CT", 21), ("Ashford", "TN", 40), ("Dartford", "DA", 18))),
)


def _names(text: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in text.split(","))


# Curated name lists per community (commas separate names: some surnames contain spaces).
COMMUNITIES = {
    "english": {
        "female": _names("Olivia, Amelia, Isla, Ava, Mia, Ivy, Lily, Isabella, Sophia, Grace, Freya, Emily, Poppy, "
                         "Ella, Evie, Charlotte, Florence, Sienna, Daisy, Willow, Elizabeth, Katherine, Jessica, "
                         "Rebecca, Abigail, Eleanor, Chloé, Zoë, Hannah, Lucy, Ruby, Phoebe, Matilda, Harriet, "
                         "Sophie, Megan, Holly, Maisie, Alice, Rosie"),
        "male": _names("Oliver, George, Noah, Arthur, Harry, Leo, Jack, Charlie, Oscar, Jacob, Henry, Thomas, "
                       "Freddie, Alfie, Theo, William, Alexander, James, Joshua, Samuel, Benjamin, Daniel, Joseph, "
                       "Matthew, Edward, Archie, Harrison, Lucas, Max, Ethan, Logan, Riley, Jenson, Reuben, Toby, "
                       "Finley, Louis, Callum, Kieran, Jayden"),
        "family": _names("Smith, Jones, Williams, Taylor, Brown, Davies, Evans, Wilson, Thomas, Johnson, Roberts, "
                         "Robinson, Thompson, Wright, Walker, White, Edwards, Hughes, Green, Hall, Lewis, Harris, "
                         "Clarke, Jackson, Wood, Turner, Martin, Cooper, Hill, Ward, Morris, Moore, King, Baker, "
                         "Allen, Scott, Watson, Parker, Bennett, Price, Young, Mitchell, Cook, Carter, Bailey, Fox, "
                         "Ashworth, De'Ath, van der Berg"),
    },
    "welsh": {
        "female": _names("Siân, Cerys, Ffion, Carys, Megan, Seren, Nia, Lowri, Catrin, Elin, Alaw, Mali, Eleri, Gwen, "
                         "Bethan, Rhiannon, Angharad, Efa, Non, Heledd, Manon, Mared, Nerys, Ceri, Glesni, Tegan, "
                         "Eirlys"),
        "male": _names("Dylan, Rhys, Gethin, Osian, Iwan, Owain, Dafydd, Gareth, Ieuan, Llŷr, Cai, Emyr, Aled, "
                       "Steffan, Tomos, Huw, Ioan, Macsen, Gruffydd, Elis, Hywel, Rhodri, Alun, Morgan, Evan, Siôn"),
        "family": _names("Jones, Williams, Davies, Evans, Thomas, Roberts, Hughes, Lewis, Morgan, Griffiths, Owen, "
                         "Price, Jenkins, Rees, Pritchard, Powell, Lloyd, Parry, Bowen, Llewellyn, Vaughan, Prosser, "
                         "Pugh, Gwynne, Bevan, Howells, Probert, Rowlands, Meredith, ap Rhys"),
    },
    "irish": {
        "female": _names("Siobhan, Aoife, Niamh, Saoirse, Caoimhe, Ciara, Róisín, Aisling, Orla, Clodagh, Síofra, "
                         "Éabha, Sinéad, Gráinne, Deirdre, Maeve, Méabh, Áine, Bríd, Erin, Nuala, Shauna, Fionnuala, "
                         "Ailbhe, Grace, Emma"),
        "male": _names("Seán, Conor, Cian, Oisín, Darragh, Tadhg, Ciarán, Pádraig, Eoin, Cathal, Colm, Dónal, Fionn, "
                       "Ruairí, Liam, Declan, Niall, Brendan, Diarmuid, Rory, Cillian, Aidan, Kevin, Shane, Eamon"),
        "family": _names("O'Brien, O'Connor, O'Sullivan, Murphy, Kelly, Walsh, Byrne, Ryan, O'Neill, Doyle, McCarthy, "
                         "Gallagher, Doherty, Kennedy, Lynch, Murray, Quinn, McLaughlin, Carroll, Connolly, Daly, "
                         "Brennan, Burke, Collins, Fitzgerald, Dunne, Keane, Power, Ó Súilleabháin, Nic Giolla, "
                         "Mac an tSaoir"),
    },
    "scottish": {
        "female": _names("Isla, Eilidh, Morag, Kirsty, Fiona, Catriona, Mhairi, Skye, Ailsa, Iona, Shona, Rhona, "
                         "Kenna, Elspeth, Isobel, Ishbel, Lorna, Flora, Heather, Ainsley, Jessie, Effie, Greer, "
                         "Kirsten, Marsaili, Seonaid"),
        "male": _names("Callum, Euan, Hamish, Angus, Fraser, Lachlan, Ruaridh, Alasdair, Finlay, Calum, Murdo, "
                       "Struan, Ewan, Rory, Douglas, Duncan, Gregor, Iain, Kenneth, Malcolm, Ross, Stuart, Craig, "
                       "Blair, Ally"),
        "family": _names("MacDonald, Campbell, Stewart, Robertson, MacLeod, Fraser, Mackenzie, Murray, Reid, Ross, "
                         "Paterson, Ferguson, Cameron, Sinclair, Mackay, Grant, McIntyre, Buchanan, Henderson, "
                         "Hamilton, Kerr, Munro, Sutherland, Wallace, Docherty, McGregor, Drummond, Menzies, "
                         "Gillespie, MacKinnon"),
    },
    "south_asian": {   # Pakistani, Indian and Bangladeshi heritage
        "female": _names("Aisha, Fatima, Zainab, Maryam, Ayesha, Hafsa, Khadija, Amira, Inaya, Zara, Sana, Hira, "
                         "Noor, Priya, Ananya, Aanya, Divya, Kavya, Simran, Harleen, Jaspreet, Anjali, Riya, Nusrat, "
                         "Tasnim, Farzana, Sumaiya, Ruksana, Mehreen, Shreya"),
        "male": _names("Mohammed, Muhammad, Ahmed, Ali, Hassan, Hussain, Ibrahim, Yusuf, Zain, Ayaan, Rayyan, Hamza, "
                       "Bilal, Imran, Arjun, Aarav, Rohan, Vihaan, Krish, Dev, Harjeet, Gurpreet, Jaspal, Rahul, "
                       "Sanjay, Rahim, Abdul, Shahid, Tanvir, Arif, Omar"),
        "family": _names("Khan, Ahmed, Hussain, Ali, Shah, Akhtar, Begum, Rahman, Islam, Miah, Uddin, Choudhury, "
                         "Patel, Sharma, Singh, Kaur, Gill, Sandhu, Dhillon, Gupta, Kumar, Mistry, Parmar, Iqbal, "
                         "Mahmood, Qureshi, Butt, Malik, Bibi, D'Souza, Fernandes, Sarkar"),
    },
    "west_african": {  # Nigerian and Ghanaian heritage
        "female": _names("Adaeze, Chiamaka, Ngozi, Chioma, Ifeoma, Funmilayo, Temitope, Adaora, Blessing, Precious, "
                         "Favour, Abena, Akosua, Ama, Efua, Esi, Adwoa, Yaa, Ife, Folake, Titilayo, Kemi, Amarachi, "
                         "Aminat, Bisola"),
        "male": _names("Chukwuemeka, Oluwaseun, Oluwadamilare, Tunde, Ayodele, Chidi, Obinna, Ikenna, Femi, Segun, "
                       "Kayode, Tobi, David, Kwame, Kofi, Kwabena, Yaw, Kojo, Kwesi, Kwaku, Nana, Ebuka, Uchenna, "
                       "Babatunde, Olumide, Adebayo"),
        "family": _names("Adeyemi, Okafor, Okonkwo, Adebayo, Olawale, Eze, Nwosu, Chukwu, Obi, Afolabi, Ogunleye, "
                         "Balogun, Adeleke, Akinola, Mensah, Owusu, Boateng, Asante, Osei, Appiah, Agyeman, Darko, "
                         "Ansah, Amoah, Danquah, Ofori, Acheampong, Ibekwe, Nnamdi"),
    },
    "eastern_european": {  # Polish, Romanian and Lithuanian heritage
        "female": _names("Zofia, Zuzanna, Julia, Maja, Hanna, Lena, Alicja, Maria, Oliwia, Wiktoria, Małgorzata, "
                         "Katarzyna, Agnieszka, Natalia, Ioana, Andreea, Elena, Ana, Bianca, Daria, Alexandra, "
                         "Ștefania, Gabija, Emilija, Austėja, Ugnė, Kamilė, Urtė, Milda"),
        "male": _names("Łukasz, Jakub, Jan, Szymon, Antoni, Filip, Kacper, Mateusz, Wojciech, Piotr, Michał, "
                       "Aleksander, Kamil, Paweł, Andrei, Alexandru, Ionuț, Mihai, Ștefan, Gabriel, Luca, Matas, "
                       "Lukas, Dominykas, Jokūbas, Nojus, Domantas, Tomas, Mantas"),
        "family": _names("Nowak, Kowalski, Wiśniewski, Wójcik, Kowalczyk, Kamiński, Lewandowski, Zieliński, "
                         "Szymański, Woźniak, Dąbrowski, Kozłowski, Jankowski, Mazur, Krawczyk, Popescu, Ionescu, "
                         "Popa, Dumitru, Stan, Constantin, Munteanu, Rusu, Kazlauskas, Jankauskas, Petrauskas, "
                         "Stankevičius, Vasiliauskas, Žukauskas, Butkus"),
    },
    "somali_arabic": {
        "female": _names("Amina, Hodan, Hibo, Ayaan, Fadumo, Halima, Ifrah, Nasra, Sagal, Sahra, Ubah, Ilhan, Hamdi, "
                         "Khadra, Deeqa, Layla, Mariam, Nour, Salma, Yasmin, Rania, Huda, Lina, Reem, Aaliyah, "
                         "Safiya, Zahra"),
        "male": _names("Abdi, Abdullahi, Abdirahman, Ahmed, Mohamed, Mahad, Liban, Guled, Hamza, Khalid, Yusuf, Omar, "
                       "Osman, Mustafa, Ismail, Faisal, Tariq, Karim, Samir, Youssef, Adam, Ibrahim, Saeed, Hassan, "
                       "Ayoub"),
        "family": _names("Mohamed, Ali, Hassan, Abdi, Warsame, Farah, Jama, Hussein, Osman, Yusuf, Aden, Ibrahim, "
                         "Nur, Mohamud, Abdullahi, Egal, Hersi, Duale, Ismail, Al-Hassan, Al-Masri, El-Sayed, Haddad, "
                         "Khalil, Mansour, Nasser, Saleh, Abdallah, Hamid"),
    },
}
COMMUNITY_WEIGHTS = (("english", 55), ("welsh", 5), ("irish", 6), ("scottish", 5), ("south_asian", 12),
                     ("west_african", 6), ("eastern_european", 7), ("somali_arabic", 4))

NICKNAMES = {
    "Alexander": ("Alex", "Xander"), "Aleksander": ("Olek", "Alek"), "Elizabeth": ("Libby", "Beth", "Lizzie"),
    "Mohammed": ("Mo",), "Muhammad": ("Mo",), "Mohamed": ("Mo",), "Katherine": ("Kate", "Katie"),
    "William": ("Billy", "Will"), "Siobhan": ("Shivaun",), "Thomas": ("Tom", "Tommy"), "James": ("Jamie",),
    "Oliver": ("Ollie",), "Jessica": ("Jess",), "Rebecca": ("Becky",), "Charlotte": ("Lottie", "Charlie"),
    "Samuel": ("Sam",), "Benjamin": ("Ben",), "Daniel": ("Dan", "Danny"), "Joseph": ("Joe",),
    "Matthew": ("Matt",), "Edward": ("Ed", "Ted"), "Abigail": ("Abbie",), "Eleanor": ("Ellie",),
    "Isabella": ("Bella", "Izzy"), "Harriet": ("Hattie",), "Jakub": ("Kuba",), "Małgorzata": ("Gosia",),
    "Katarzyna": ("Kasia",), "Oluwaseun": ("Seun",), "Oluwadamilare": ("Dami",), "Chukwuemeka": ("Emeka",),
    "Babatunde": ("Tunde",), "Temitope": ("Tope", "Temi"), "Abdirahman": ("Abdi",), "Dafydd": ("Dai",),
    "Gruffydd": ("Gruff",), "Alasdair": ("Ally",), "Elspeth": ("Elsie",),
}
_TRANSLITERATION_GROUPS = (
    ("Mohammed", "Muhammad", "Mohamed", "Mohammad"), ("Yusuf", "Yousef", "Yousuf", "Youssef"),
    ("Aleksander", "Alexander"), ("Aisha", "Ayesha", "Aysha"), ("Hussain", "Hussein", "Husain"),
    ("Choudhury", "Chowdhury", "Chaudhry"), ("Ahmed", "Ahmad"), ("Fatima", "Fatimah"),
    ("Abdullahi", "Abdullah"), ("Hassan", "Hasan"), ("Maryam", "Mariam"), ("Ibrahim", "Ebrahim"),
    ("Osman", "Usman"), ("Zainab", "Zaynab"), ("Mohamud", "Mahmoud", "Mahmood"), ("Nur", "Noor"),
    ("Rahman", "Rehman"), ("Khadija", "Khadijah"), ("Andrei", "Andrey"), ("Katarzyna", "Katarzina"),
)
TRANSLITERATIONS = {name: tuple(other for other in group if other != name)
                    for group in _TRANSLITERATION_GROUPS for name in group}
ANGLICISED = {
    "Łukasz": "Luke", "Jakub": "Jacob", "Piotr": "Peter", "Paweł": "Paul", "Michał": "Michael",
    "Szymon": "Simon", "Małgorzata": "Margaret", "Katarzyna": "Katherine", "Zofia": "Sophie",
    "Ștefan": "Stephen", "Ioana": "Joanna", "Andrei": "Andrew", "Alexandru": "Alexander", "Jokūbas": "Jacob",
    "Oluwaseun": "Sean", "Yusuf": "Joseph", "Ibrahim": "Abraham", "Maryam": "Mary", "Dafydd": "David",
    "Seán": "Shaun", "Pádraig": "Patrick", "Eoin": "Owen", "Gráinne": "Grace", "Ieuan": "Evan",
}
# Letters NFKD cannot split into base letter + accent.
_UNDECOMPOSABLE = str.maketrans({"Ł": "L", "ł": "l", "Ø": "O", "ø": "o", "ß": "ss"})

FIRST_CARER_WEIGHTS = (("mother", 70), ("father", 12), ("grandparent", 6), ("foster carer", 5),
                       ("special guardian", 3), ("aunt", 2), ("uncle", 1), ("step-parent", 1))
SECOND_CARER_WEIGHTS = {
    "mother": (("father", 60), ("step-parent", 20), ("grandparent", 12), ("aunt", 4), ("uncle", 4)),
    "father": (("step-parent", 50), ("grandparent", 30), ("mother", 20)),
    "step-parent": (("mother", 1),), "aunt": (("uncle", 1),), "uncle": (("aunt", 1),),
}  # anything else (foster carer, grandparent, special guardian) pairs with the same relationship
CARER_GENDER = {"mother": "female", "aunt": "female", "father": "male", "uncle": "male"}
PARENTAL_RESPONSIBILITY_RATE = {"mother": 0.98, "father": 0.85, "special guardian": 1.0, "step-parent": 0.25,
                                "foster carer": 0.0, "grandparent": 0.1, "aunt": 0.1, "uncle": 0.1}
SHARES_CHILD_SURNAME_RATE = {"mother": 0.85, "father": 0.85, "step-parent": 0.3, "foster carer": 0.0}


class _Service(NamedTuple):
    abbr: str
    role: str
    org_suffix: str
    min_age: int
    max_age: int
    nhs: bool
    sensitive_category: str | None


SERVICES = (
    _Service("HV", "Health visitor", "Health Visiting Service", 0, 4, True, None),
    _Service("SN", "School nurse", "School Nursing Service", 5, 17, True, None),
    _Service("CSC", "Social worker", "Children's Social Care", 0, 17, False, None),
    _Service("EH", "Family support worker", "Early Help and Family Support", 0, 17, False, None),
    _Service("EP", "Educational psychologist", "Educational Psychology Service", 3, 17, False, None),
    _Service("SLT", "Speech and language therapist", "Speech and Language Therapy", 1, 11, True, None),
    _Service("EWO", "Education welfare officer", "Education Welfare Service", 5, 16, False, None),
    _Service("YJ", "Youth justice officer", "Youth Justice Service", 10, 17, False, None),
    _Service("PA", "Personal adviser", "Careers and Personal Advice Service", 13, 17, False, None),
    _Service("CAMHS", "CAMHS practitioner", "CAMHS", 4, 17, True, "mental_health"),
    _Service("SH", "Sexual health nurse", "Young People's Sexual Health Service", 13, 17, True, "sexual_health"),
    _Service("SM", "Substance misuse worker", "Young People's Substance Misuse Service", 11, 17, False,
            "substance_misuse"),
)
PRACTITIONERS_PER_SERVICE = 3
PRIMARY_SCHOOLS_PER_LA = 12
SECONDARY_SCHOOLS_PER_LA = 6
GP_PRACTICES_PER_LA = 8
STREET_SUFFIXES = ("Road", "Street", "Lane", "Avenue", "Close", "Drive", "Crescent", "Grove", "Way", "Gardens",
                   "Terrace", "Place")
SAINTS = ("Mary", "John", "Peter", "Paul", "Anne", "Joseph", "Michael", "Thomas", "Bede", "Catherine")
SOURCE_PREFIXES = {"nhs-pds": "PDS", "la-social-care": "LASC", "school-census": "SC", "youth-justice": "YJ"}


# --- Small helpers ---------------------------------------------------------------------------
def _weighted(rng: Random, pairs):
    values, weights = zip(*pairs)
    return rng.choices(values, weights)[0]


def _slug(text: str) -> str:
    return "-".join("".join(c if c.isalnum() else " " for c in _fold_diacritics(text).lower()).split())


def _fold_diacritics(text: str) -> str:
    """Zoë -> Zoe, Łukasz -> Lukasz: what systems without Unicode support store."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_UNDECOMPOSABLE))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _email_local_part(*names: str) -> str:
    return ".".join("".join(c for c in _fold_diacritics(name).lower() if c.isalpha()) for name in names)


def _phone(rng: Random, prefix: str) -> str:
    return f"{prefix}{rng.randrange(1000):03d}"


def _postcode(rng: Random, area: str, max_district: int) -> str:
    letters = "".join(rng.choice(POSTCODE_INWARD_LETTERS) for _ in range(2))
    return f"{area}{rng.randint(1, max_district)} {rng.randint(0, 9)}{letters}"


def _add_years(day: datetime.date, years: int) -> datetime.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February in a non-leap year
        return day.replace(year=day.year + years, day=28)


def _age_on(dob: datetime.date, today: datetime.date) -> int:
    return today.year - dob.year - ((today.month, today.day) < (dob.month, dob.day))


def _random_date_between(rng: Random, first: datetime.date, last: datetime.date) -> datetime.date:
    return first + datetime.timedelta(days=rng.randint(0, (last - first).days))


def _gendered_surname(surname: str, gender: str) -> str:
    """Polish -ski/-cki/-dzki surnames take -ska etc. for women and girls."""
    if gender == "female" and surname.endswith(("ski", "cki", "dzki")):
        return surname[:-1] + "a"
    return surname


def _join_surname(parts: tuple[str, ...], community: str, gender: str) -> str:
    separator = " " if community == "south_asian" else "-"   # "Ahmed Khan" but "Smith-Jones"
    return separator.join(_gendered_surname(part, gender) for part in parts)


def _typo(rng: Random, word: str) -> str:
    """One keying error away from the first letter: substitution, transposition, deletion or insertion."""
    letter = rng.choice("abcdefghijklmnopqrstuvwxyz")
    if len(word) < 2:
        return word + letter
    for _ in range(5):
        operation, i = rng.choice(("substitute", "transpose", "delete", "insert")), rng.randrange(1, len(word))
        if operation == "substitute" and word[i].isalpha() and word[i].lower() != letter:
            return word[:i] + letter + word[i + 1:]
        pair = word[i:i + 2]
        if operation == "transpose" and len(pair) == 2 and pair.isalpha() and pair[0] != pair[1]:
            return word[:i] + word[i + 1] + word[i] + word[i + 2:]
        if operation == "delete" and len(word) > 3 and word[i].isalpha():
            return word[:i] + word[i + 1:]
    return word[:i] + letter + word[i:]   # insertion always changes the word


# --- Directory of places, schools, practices and services (built once per generator) ----------
def local_authorities() -> list[dict]:
    return [{"code": code, "name": name, "phone": f"{prefix}{100 + i:03d}",
             "email": f"cp-team@{_slug(name)}.gov.uk.example"}
            for i, (code, name, prefix, _places) in enumerate(_LA_DATA)]


def _school_name(rng: Random, fake: Faker, town: str, secondary: bool) -> str:
    saint, surname = rng.choice(SAINTS), fake.last_name()
    if secondary:
        return rng.choice((f"{surname} Academy", f"{town} High School",
                           f"St {saint}'s Catholic High School", f"{surname} Park School"))
    return rng.choice((f"St {saint}'s Church of England Primary School", f"St {saint}'s Catholic Primary School",
                       f"{surname} {rng.choice(('Park', 'Hill', 'Lane', 'Green'))} Primary School",
                       f"{town} Community Primary School"))


def _build_directory(rng: Random, fake: Faker) -> list[dict]:
    las = local_authorities()
    schools_per_la = PRIMARY_SCHOOLS_PER_LA + SECONDARY_SCHOOLS_PER_LA
    # Codes are sampled without replacement so no two schools or practices share one.
    urns = rng.sample(range(100000, 150000), len(las) * schools_per_la)
    gp_numbers = rng.sample(range(1000, 99999), len(las) * GP_PRACTICES_PER_LA)
    emails_seen: set[str] = set()   # membership only, never iterated
    directory = []
    for i, (la, (_code, _name, prefix, places)) in enumerate(zip(las, _LA_DATA)):
        schools, gps = [], []
        for j in range(schools_per_la):
            town, area, max_district = rng.choice(places)
            town = la["name"] if town == "London" else town   # "Hackney High School", not "London ..."
            schools.append({"code": str(urns[i * schools_per_la + j]),
                            "name": _school_name(rng, fake, town, secondary=j >= PRIMARY_SCHOOLS_PER_LA),
                            "postcode": _postcode(rng, area, max_district)})
        for j in range(GP_PRACTICES_PER_LA):
            town, area, max_district = rng.choice(places)
            town = la["name"] if town == "London" else town
            surname = fake.last_name()
            gps.append({"code": f"{rng.choice('ABCDEFGHJKLMNPY')}{gp_numbers[i * GP_PRACTICES_PER_LA + j]:05d}",
                        "name": rng.choice((f"{surname} Medical Centre", f"The {surname} Surgery",
                                            f"{town} Health Centre", f"{surname} Family Practice")),
                        "phone": _phone(rng, prefix), "postcode": _postcode(rng, area, max_district)})
        services = {}
        for service in SERVICES:
            organisation = {"code": f"{la['code']}-{service.abbr}", "name": f"{la['name']} {service.org_suffix}",
                            "kind": "service"}
            domain = "nhs.net.example" if service.nhs else f"{_slug(la['name'])}.gov.uk.example"
            practitioners = []
            for _ in range(PRACTITIONERS_PER_SERVICE):
                # The workforce is as mixed as the children it serves.
                community = _weighted(rng, COMMUNITY_WEIGHTS)
                first = _name_from(rng, community, rng.choice(("female", "male")))
                last = _name_from(rng, community, "family")
                email = f"{_email_local_part(first, last)}@{domain}"
                while email in emails_seen:
                    email = f"{_email_local_part(first, last)}{rng.randint(2, 99)}@{domain}"
                emails_seen.add(email)
                phone = _phone(rng, MOBILE_PREFIX if rng.random() < 0.3 else prefix)
                practitioners.append({"name": f"{first} {last}", "phone": phone, "email": email})
            services[service.abbr] = (organisation, practitioners)
        directory.append({"la": la, "places": places, "primary_schools": schools[:PRIMARY_SCHOOLS_PER_LA],
                          "secondary_schools": schools[PRIMARY_SCHOOLS_PER_LA:], "gp_practices": gps,
                          "services": services})
    return directory


# --- People ------------------------------------------------------------------------------------
def _name_from(rng: Random, community: str, kind: str, avoid: tuple[str, ...] = ()) -> str:
    """A name of ``kind`` ("female", "male" or "family") from one community's list."""
    return rng.choice([name for name in COMMUNITIES[community][kind] if name not in avoid])


def _surname_parts(rng: Random, community: str) -> tuple[str, ...]:
    first = rng.choice(COMMUNITIES[community]["family"])
    if rng.random() >= DOUBLE_BARRELLED_RATE:
        return (first,)
    # Most double-barrelled names join two names from one community; some mix heritages.
    other = community if rng.random() < 0.7 else _weighted(rng, COMMUNITY_WEIGHTS)
    return (first, _name_from(rng, other, "family", avoid=(first,)))


def _date_of_birth(rng: Random, today: datetime.date) -> datetime.date:
    earliest = _add_years(today, -18) + datetime.timedelta(days=1)   # still 17 today
    return _random_date_between(rng, earliest, today)


def _street_address(rng: Random, fake: Faker) -> tuple[str, str | None]:
    street = f"{rng.randint(1, 180)} {fake.last_name()} {rng.choice(STREET_SUFFIXES)}"
    if rng.random() < FLAT_RATE:
        return f"Flat {rng.randint(1, 40)}, {fake.last_name()} {rng.choice(('House', 'Court'))}", street
    return street, None


def _carers(rng: Random, community: str, surname_parts: tuple[str, ...]) -> list[dict]:
    first = _weighted(rng, FIRST_CARER_WEIGHTS)
    relationships = [first]
    if _weighted(rng, CARER_COUNT_WEIGHTS) == 2:
        relationships.append(_weighted(rng, SECOND_CARER_WEIGHTS.get(first, ((first, 1),))))
    carers = []
    for relationship in relationships:
        gender = CARER_GENDER.get(relationship) or rng.choice(("female", "male"))
        carer_community = _weighted(rng, COMMUNITY_WEIGHTS) if relationship == "foster carer" else community
        if rng.random() < SHARES_CHILD_SURNAME_RATE.get(relationship, 0.5):
            parts = surname_parts
            if len(parts) == 2 and rng.random() < 0.5:   # one parent holds each half of the name
                parts = (rng.choice(parts),)
        else:
            parts = (rng.choice(COMMUNITIES[carer_community]["family"]),)
        given = _name_from(rng, carer_community, gender)
        family = _join_surname(parts, carer_community, gender)
        email = (f"{_email_local_part(given, family)}{rng.randint(1, 99)}@"
                 f"{rng.choice(('example.com', 'example.org', 'example.net'))}"
                 if rng.random() < CARER_EMAIL_RATE else None)
        carers.append({"given_name": given, "family_name": family, "relationship": relationship,
                       "parental_responsibility": rng.random() < PARENTAL_RESPONSIBILITY_RATE[relationship],
                       "phone": _phone(rng, MOBILE_PREFIX), "email": email})
    return carers


def _aliases(rng: Random, community: str, gender: str, child: dict, surname_parts: tuple[str, ...]) -> list[dict]:
    if rng.random() >= ALIAS_RATE:
        return []
    given, middle = child["given_name"], child["middle_names"]
    # A previous surname (before a carer's marriage or an adoption) and/or a known-as given name:
    # an anglicised form, a short form, a middle name used day to day, or an adopted English name.
    previous = {"given_name": given, "middle_names": middle, "family_name":
                _gendered_surname(_name_from(rng, community, "family", avoid=surname_parts), gender),
                "kind": "previous"}
    known_as = (ANGLICISED.get(given) or rng.choice(NICKNAMES.get(given) or [None])
                or (middle and middle.split()[0])
                or (_name_from(rng, "english", gender, avoid=(given,)) if community != "english" else None))
    kinds = rng.choice((("previous",), ("alias",), ("previous", "alias"))) if known_as else ("previous",)
    aliases = [previous] if "previous" in kinds else []
    if "alias" in kinds:
        aliases.append({"given_name": known_as, "middle_names": middle, "family_name": child["family_name"],
                        "kind": "alias"})
    return aliases


# --- Services working with the child -----------------------------------------------------------
def _involvement(rng: Random, area: dict, service: _Service, dob: datetime.date, today: datetime.date) -> dict:
    organisation, practitioners = area["services"][service.abbr]
    practitioner = rng.choice(practitioners)
    # Services only start once the child is old enough, and we keep ~6 years of history.
    earliest = max(_add_years(dob, service.min_age), today - datetime.timedelta(days=6 * 365))
    start = _random_date_between(rng, earliest, today)
    end = _random_date_between(rng, start, today) if rng.random() < ENDED_INVOLVEMENT_RATE else None
    consent_at = None
    if service.sensitive_category:
        # Recorded in office hours on the day the service started (the day before if that is today),
        # so it is never later than now.
        consent_day = start if start < today else start - datetime.timedelta(days=1)
        consent_at = datetime.datetime.combine(
            consent_day, datetime.time(rng.randint(9, 16), rng.randint(0, 59)), tzinfo=UTC)
    return {"organisation": dict(organisation), "practitioner_name": practitioner["name"], "role": service.role,
            "phone": practitioner["phone"], "email": practitioner["email"], "start_date": start, "end_date": end,
            "lead_professional": False, "caf_held": rng.random() < CAF_RATE,
            "info_to_share": rng.random() < INFO_TO_SHARE_RATE,
            "assessment_undertaken": rng.random() < ASSESSMENT_RATE,
            "sensitive_category": service.sensitive_category,
            "consent_recorded_by": practitioner["name"] if consent_at else None,
            "consent_recorded_at": consent_at}


def _involvements(rng: Random, area: dict, dob: datetime.date, age: int, today: datetime.date) -> list[dict]:
    eligible = [s for s in SERVICES if s.min_age <= age <= s.max_age]
    general = [s for s in eligible if s.sensitive_category is None]   # never empty: CSC and EH take all ages
    sensitive = [s for s in eligible if s.sensitive_category is not None]
    chosen = []
    for _ in range(_weighted(rng, INVOLVEMENT_COUNT_WEIGHTS)):
        pool = sensitive if sensitive and rng.random() < SENSITIVE_RATE else general
        if not pool:
            break
        chosen.append(pool.pop(rng.randrange(len(pool))))
    involvements = [_involvement(rng, area, service, dob, today) for service in chosen]
    if rng.random() < LEAD_PROFESSIONAL_RATE:
        candidates = [i for i in involvements if i["sensitive_category"] is None] or involvements
        rng.choice(candidates)["lead_professional"] = True
    return involvements


# --- Source records: how services sent us this child -------------------------------------------
def _name_variation_options(record: dict, surname_parts: tuple[str, ...], aliases: list[dict]):
    given, family = record["given_name"], record["family_name"]
    candidates = (
        ("typo", 30, True),
        ("nickname", 25, given in NICKNAMES),
        ("transliteration", 25, given in TRANSLITERATIONS or family in TRANSLITERATIONS),
        ("diacritics", 30, not f"{given}{record['middle_names'] or ''}{family}".isascii()),
        ("apostrophe", 30, "'" in family),
        ("double_barrel", 30, len(surname_parts) == 2),
        ("middle_dropped", 8, record["middle_names"] is not None),
        ("previous_surname", 20, any(a["kind"] == "previous" for a in aliases)),
        ("anglicised", 15, given in ANGLICISED),
    )
    return [(kind, weight) for kind, weight, applicable in candidates if applicable]


def _vary_name(rng: Random, record: dict, surname_parts: tuple[str, ...], aliases: list[dict]) -> None:
    kind = _weighted(rng, _name_variation_options(record, surname_parts, aliases))
    given, family = record["given_name"], record["family_name"]
    if kind == "typo":
        field = rng.choice(("given_name", "family_name"))
        record[field] = _typo(rng, record[field])
    elif kind == "nickname":
        record["given_name"] = rng.choice(NICKNAMES[given])
    elif kind == "transliteration":
        field = "given_name" if given in TRANSLITERATIONS else "family_name"
        record[field] = rng.choice(TRANSLITERATIONS[record[field]])
    elif kind == "diacritics":
        for field in ("given_name", "middle_names", "family_name"):
            record[field] = record[field] and _fold_diacritics(record[field])
    elif kind == "apostrophe":
        record["family_name"] = family.replace("'", rng.choice(("", " ")))
    elif kind == "double_barrel":
        record["family_name"] = rng.choice(surname_parts)
    elif kind == "middle_dropped":
        record["middle_names"] = None
    elif kind == "previous_surname":
        record["family_name"] = next(a["family_name"] for a in aliases if a["kind"] == "previous")
    elif kind == "anglicised":
        record["given_name"] = ANGLICISED[given]


def _transposed_dob(dob: datetime.date, today: datetime.date) -> datetime.date | None:
    """Day and month read the other way round; None when that changes nothing or leaves the 0-17 range."""
    if dob.day > 12 or dob.day == dob.month:
        return None
    swapped = dob.replace(month=dob.day, day=dob.month)
    return swapped if swapped <= today and _age_on(swapped, today) <= 17 else None


def _source_records(rng: Random, index: int, child: dict, age: int, has_school: bool,
                    surname_parts: tuple[str, ...], aliases: list[dict], area: dict,
                    today: datetime.date) -> list[dict]:
    eligible = ["nhs-pds", "la-social-care"]
    if has_school:
        eligible.append("school-census")
    if age >= 10:
        eligible.append("youth-justice")
    sources = rng.sample(eligible, min(_weighted(rng, SOURCE_COUNT_WEIGHTS), len(eligible)))
    records = []
    for ordinal, source in enumerate(sources, start=1):
        record = {"source": source, "source_record_id": f"{SOURCE_PREFIXES[source]}-{index:06d}-{ordinal}",
                  "given_name": child["given_name"], "middle_names": child["middle_names"],
                  "family_name": child["family_name"], "date_of_birth": child["date_of_birth"],
                  "gender": child["gender"], "postcode": child["postcode"]}
        if ordinal > 1:   # the first record is the child's own name, exactly
            if rng.random() < NAME_VARIATION_RATE:
                _vary_name(rng, record, surname_parts, aliases)
            if rng.random() < NAME_SWAP_RATE:
                record["given_name"], record["family_name"] = record["family_name"], record["given_name"]
            transposed = _transposed_dob(record["date_of_birth"], today)
            if transposed and rng.random() < DOB_TRANSPOSE_RATE:
                record["date_of_birth"] = transposed
            if rng.random() < GENDER_UNKNOWN_RATE:
                record["gender"] = "unknown"
            roll = rng.random()
            if roll < POSTCODE_MISSING_RATE:
                record["postcode"] = None
            elif roll < POSTCODE_MISSING_RATE + POSTCODE_PREVIOUS_RATE:   # an address before a move
                _town, postcode_area, max_district = rng.choice(area["places"])
                record["postcode"] = _postcode(rng, postcode_area, max_district)
        records.append(record)
    return records


# --- Public generator --------------------------------------------------------------------------
def _child_spec(rng: Random, fake: Faker, directory: list[dict], index: int, today: datetime.date) -> dict:
    community = _weighted(rng, COMMUNITY_WEIGHTS)
    gender = _weighted(rng, GENDER_WEIGHTS)
    name_gender = gender if gender in ("female", "male") else rng.choice(("female", "male"))
    given = _name_from(rng, community, name_gender)
    middle_count = _weighted(rng, MIDDLE_NAME_COUNT_WEIGHTS)
    middles = rng.sample([n for n in COMMUNITIES[community][name_gender] if n != given], middle_count)
    surname_parts = _surname_parts(rng, community)
    dob = _date_of_birth(rng, today)
    age = _age_on(dob, today)
    area = rng.choice(directory)
    town, postcode_area, max_district = rng.choice(area["places"])
    address_line_1, address_line_2 = _street_address(rng, fake)
    child = {"given_name": given, "middle_names": " ".join(middles) or None,
             "family_name": _join_surname(surname_parts, community, name_gender), "date_of_birth": dob,
             "gender": gender, "address_line_1": address_line_1, "address_line_2": address_line_2,
             "town": town, "postcode": _postcode(rng, postcode_area, max_district), "la_code": area["la"]["code"]}
    school = None
    if age >= 4 and rng.random() >= HOME_EDUCATED_RATE:
        school = dict(rng.choice(area["primary_schools"] if age < 11 else area["secondary_schools"]))
    aliases = _aliases(rng, community, name_gender, child, surname_parts)
    child_surname_parts = tuple(_gendered_surname(part, name_gender) for part in surname_parts)
    return {
        "child": child,
        "shielded": rng.random() < SHIELDED_RATE,
        "school": school,
        "gp_practice": dict(rng.choice(area["gp_practices"])),
        "carers": _carers(rng, community, surname_parts),
        "involvements": _involvements(rng, area, dob, age, today),
        "aliases": aliases,
        "source_records": _source_records(rng, index, child, age, school is not None, child_surname_parts,
                                          aliases, area, today),
    }


CHUNK = 1000  # children per random stream (see generate_chunk)


def _streams(seed: int) -> tuple[Random, Faker]:
    fake = Faker("en_GB")
    fake.seed_instance(seed)
    return Random(seed), fake


@functools.lru_cache(maxsize=2)
def _directory(seed: int) -> list[dict]:
    return _build_directory(*_streams(seed))


def _chunk_specs(directory: list[dict], rng: Random, fake: Faker, seed: int, chunk: int, n: int,
                 today: datetime.date) -> Iterator[dict]:
    if chunk:  # the first chunk continues the streams that built the directory; each later one has its own
        rng = Random(f"{seed}/{chunk}")
        fake.seed_instance(f"{seed}/{chunk}")
    for index in range(chunk * CHUNK, min(n, (chunk + 1) * CHUNK)):
        yield _child_spec(rng, fake, directory, index, today)


def generate_children(n: int, seed: int = 0, today: datetime.date | None = None) -> Iterator[dict]:
    """Yield ``n`` child specs one at a time; the same (n, seed, today) always yields the same specs."""
    today = clock.today() if today is None else today
    rng, fake = _streams(seed)
    directory = _build_directory(rng, fake)
    for chunk in range(-(-n // CHUNK)):
        yield from _chunk_specs(directory, rng, fake, seed, chunk, n, today)


def generate_chunk(n: int, seed: int, chunk: int, today: datetime.date) -> list[dict]:
    """Children ``chunk * CHUNK`` up to the next chunk of the ``n`` that ``generate_children(n, seed, today)``
    yields, made on their own: each chunk draws from its own random stream, so chunks can be made in parallel."""
    if chunk == 0:
        rng, fake = _streams(seed)
        directory = _build_directory(rng, fake)
    else:
        directory, (rng, fake) = _directory(seed), _streams(seed)
    return list(_chunk_specs(directory, rng, fake, seed, chunk, n, today))


def directory_organisations(seed: int) -> list[dict]:
    """Every organisation the children of a seed may name (local authorities, schools, GP practices, services),
    as organisation columns: kind, code, name and contact details."""
    organisations = []
    for area in _directory(seed):
        la = area["la"]
        organisations.append({"kind": "local_authority", "code": la["code"], "name": la["name"],
                              "phone": la["phone"], "email": la["email"], "postcode": None})
        organisations.extend({"kind": "school", "code": s["code"], "name": s["name"], "phone": None, "email": None,
                              "postcode": s["postcode"]} for s in area["primary_schools"] + area["secondary_schools"])
        organisations.extend({"kind": "gp_practice", "code": g["code"], "name": g["name"], "phone": g["phone"],
                              "email": None, "postcode": g["postcode"]} for g in area["gp_practices"])
        organisations.extend({"kind": "service", "code": org["code"], "name": org["name"], "phone": None,
                              "email": None, "postcode": None} for org, _ in area["services"].values())
    return organisations
