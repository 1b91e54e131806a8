"""Small word lists the generator draws from: places, people, companies and scale models.

Country weights follow the customer mix of the public ClassicModels sample; the seven product
lines, the scales and the thirteen vendors are the sample's own vocabulary. Patterns use ``#``
for a random digit and ``@`` for a random capital letter (see :func:`fill`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from random import Random

Territory = str  # "NA" | "EMEA" | "APAC" | "Japan"


@dataclass(frozen=True)
class Country:
    """A customer country: how its phones, postcodes and streets look, and some cities."""

    name: str
    weight: int
    territory: Territory
    phone: str
    postal: str
    people: str  # key of PEOPLE and STREETS
    cities: tuple[tuple[str, str | None, str], ...]  # (city, state, postcode prefix)


COUNTRIES: tuple[Country, ...] = (
    Country("USA", 36, "NA", "##########", "#####", "en", (
        ("San Francisco", "CA", "941"), ("Los Angeles", "CA", "900"), ("San Jose", "CA", "951"),
        ("NYC", "NY", "100"), ("White Plains", "NY", "106"), ("Boston", "MA", "021"),
        ("Cambridge", "MA", "021"), ("New Haven", "CT", "065"), ("Las Vegas", "NV", "891"),
        ("Philadelphia", "PA", "191"), ("Allentown", "PA", "181"), ("Glendale", "CA", "912"),
        ("Burlingame", "CA", "940"), ("Brickhaven", "MA", "585"), ("Nashua", "NH", "030"),
    )),
    Country("Germany", 13, "EMEA", "0###-#######", "#####", "de", (
        ("Frankfurt", None, "60"), ("München", None, "80"), ("Köln", None, "50"),
        ("Berlin", None, "10"), ("Stuttgart", None, "70"), ("Leipzig", None, "04"),
        ("Münster", None, "48"), ("Cunewalde", None, "02"),
    )),
    Country("France", 12, "EMEA", "##.##.####", "#####", "fr", (
        ("Paris", None, "750"), ("Nantes", None, "440"), ("Lyon", None, "690"),
        ("Marseille", None, "130"), ("Strasbourg", None, "670"), ("Lille", None, "590"),
        ("Reims", None, "511"), ("Toulouse", None, "310"), ("Versailles", None, "780"),
    )),
    Country("Spain", 7, "EMEA", "(91) 555 ## ##", "#####", "es", (
        ("Madrid", None, "280"), ("Barcelona", None, "080"), ("Sevilla", None, "410"),
        ("Valencia", None, "460"),
    )),
    Country("Australia", 5, "APAC", "0# #### ####", "####", "en", (
        ("Melbourne", "Victoria", "30"), ("Sydney", "NSW", "20"), ("Chatswood", "NSW", "20"),
        ("South Brisbane", "Queensland", "41"), ("Glen Waverly", "Victoria", "31"),
    )),
    Country("UK", 5, "EMEA", "(171) 555-####", "@@# #@@", "en", (
        ("London", None, ""), ("Manchester", None, ""), ("Liverpool", None, ""),
        ("Cowes", "Isle of Wight", ""),
    )),
    Country("Italy", 4, "EMEA", "####-######", "#####", "it", (
        ("Milan", None, "201"), ("Torino", None, "101"), ("Bergamo", None, "241"),
        ("Reggio Emilia", None, "421"),
    )),
    Country("New Zealand", 4, "APAC", "+64 9 ### ####", "####", "en", (
        ("Auckland", None, "10"), ("Wellington", None, "60"), ("Christchurch", None, "80"),
    )),
    Country("Singapore", 3, "APAC", "+65 ### ####", "######", "en", (("Singapore", None, "0"),)),
    Country("Finland", 3, "EMEA", "##-### ###", "#####", "nordic", (
        ("Helsinki", None, "00"), ("Espoo", None, "02"), ("Oulu", None, "90"),
    )),
    Country("Canada", 3, "NA", "(###) 555-####", "@#@ #@#", "en", (
        ("Montréal", "Québec", ""), ("Vancouver", "BC", ""), ("Tsawassen", "BC", ""),
        ("Toronto", "Ontario", ""),
    )),
    Country("Switzerland", 3, "EMEA", "0###-######", "####", "de", (
        ("Bern", None, "30"), ("Genève", None, "12"), ("Zürich", None, "80"),
    )),
    Country("Norway", 3, "EMEA", "## ## ####", "####", "nordic", (
        ("Stavern", None, "41"), ("Bergen", None, "50"), ("Oslo", None, "01"),
    )),
    Country("Sweden", 2, "EMEA", "0###-## ## ##", "### ##", "nordic", (
        ("Luleå", None, "9"), ("Bräcke", None, "8"), ("Göteborg", None, "4"),
    )),
    Country("Denmark", 2, "EMEA", "## ## ####", "####", "nordic", (
        ("Kobenhavn", None, "1"), ("Århus", None, "8"),
    )),
    Country("Japan", 2, "Japan", "+81 ## #### ####", "###-####", "ja", (
        ("Minato-ku", "Tokyo", "106"), ("Osaka", "Osaka", "530"), ("Kita-ku", "Osaka", "530"),
    )),
    Country("Ireland", 2, "EMEA", "+353 1 ### ####", "", "en", (
        ("Dublin", None, ""), ("Cork", "Co. Cork", ""),
    )),
    Country("Belgium", 2, "EMEA", "(071) ## ## ####", "####", "fr", (
        ("Bruxelles", None, "10"), ("Charleroi", None, "60"),
    )),
    Country("Austria", 2, "EMEA", "####-####", "####", "de", (
        ("Graz", None, "80"), ("Salzburg", None, "50"), ("Wien", None, "10"),
    )),
)  # fmt: skip

#: First names and surnames by language group.
PEOPLE: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "en": (
        ("Susan", "Peter", "Julie", "Jean", "Dean", "Sarah", "Steve", "Valarie", "Michael",
         "William", "Leslie", "Mary", "Brian", "Rosa", "Sue", "Kyung", "Dan", "Anna"),
        ("Nelson", "King", "Ferguson", "Murphy", "Frick", "Young", "Brown", "Hirano", "Taylor",
         "Franco", "Thompson", "Hernandez", "Kuo", "Lewis", "Cassidy", "Walker", "Tseng", "Kelly"),
    ),
    "fr": (
        ("Carine", "Janine", "Frédérique", "Annette", "Laurence", "Dominique", "Martine",
         "Daniel", "Pascale", "Marie", "Paul", "Mathieu"),
        ("Schmitt", "Labrune", "Citeaux", "Roulet", "Lebihan", "Perrier", "Rancé", "Tonini",
         "Cartrain", "Bertrand", "Henriot", "Moreau"),
    ),
    "de": (
        ("Roland", "Renate", "Peter", "Henriette", "Rita", "Sven", "Georg", "Horst", "Michael",
         "Karin", "Jürgen", "Anja"),
        ("Keitel", "Messner", "Franken", "Pfalzheim", "Müller", "Ottlieb", "Pipps", "Kloss",
         "Holz", "Josephs", "Schneider", "Becker"),
    ),
    "es": (
        ("Diego", "Eduardo", "Jesus", "Isabel", "José Pedro", "Alejandra", "Carmen", "Manuel"),
        ("Freyre", "Saavedra", "Fernandez", "Roel", "Sommer", "Camino", "Rovelli", "Ruiz"),
    ),
    "it": (
        ("Giovanni", "Maurizio", "Paolo", "Sergio", "Francesca", "Lucia"),
        ("Rovelli", "Moroni", "Accorti", "Gallo", "Bianchi", "Conti"),
    ),
    "nordic": (
        ("Matti", "Pirkko", "Jonas", "Veysel", "Christina", "Palle", "Jytte", "Maria", "Arne"),
        ("Karttunen", "Koskitalo", "Bergulfsen", "Oeztan", "Berglund", "Ibsen", "Petersen",
         "Larsson", "Nieminen"),
    ),
    "ja": (
        ("Akiko", "Mory", "Juri", "Kenji", "Yoshi", "Hanako"),
        ("Shimamura", "Kentary", "Yoshido", "Tanaka", "Sato", "Suzuki"),
    ),
}  # fmt: skip

#: Street address pattern and street names by language group (``{n}`` house number).
STREETS: dict[str, tuple[str, tuple[str, ...]]] = {
    "en": ("{n} {s}", ("Strong St.", "Hanover Sq.", "Baden Av.", "Ingle Ln.", "Pendale Street",
                       "Linden Road", "Maiden Lane", "Oak Ave.", "Harbor Blvd.", "Spinnaker Dr.",
                       "Market Street", "Seventh Ave.", "Kirby Rd.", "Sunset Blvd.")),
    "fr": ("{n}, rue {s}", ("Royale", "des Cinquante Otages", "de la Paix", "du Commerce",
                            "Lauriston", "Saint-Honoré", "des Bouchers", "Alsace-Lorraine")),
    "de": ("{s} {n}", ("Magazinweg", "Berliner Platz", "Mehrheimerstr.", "Taucherstraße",
                       "Lyonerstr.", "Hauptstr.", "Grenzacherweg", "Kirchgasse")),
    "es": ("C/ {s}, {n}", ("Moralzarzal", "Romero", "Araquil", "Mayor", "del Sol", "Gran Vía")),
    "it": ("Via {s} {n}", ("Monte Bianco", "Ludovico il Moro", "Roma", "Garibaldi", "Dante")),
    "nordic": ("{s} {n}", ("Keskuskatu", "Torikatu", "Vinbæltet", "Smagsloget", "Åkergatan",
                           "Erling Skakkes gate", "Drammensveien", "Berguvsvägen")),
    "ja": ("{n}-1 {s}", ("Kioicho", "Ginza", "Shinjuku", "Umeda", "Roppongi")),
}  # fmt: skip

ADDRESS_LINE2 = ("Level 3", "Suite 101", "Floor No. 4", "2nd Floor", "Suite 400", "Level 11")

#: Company name patterns: ``{w}`` a word, ``{p}`` a surname, ``{c}`` the customer's city.
COMPANY_PATTERNS = (
    "{w} Collectables, Co.", "{w} Gifts", "{w} Mini Imports", "{p} Diecast Replicas",
    "{w} Souveniers, Ltd", "{c} Collectables", "{w} Model Classics", "Mini {w} Co.",
    "{w} Auto Replicas, Ltd.", "{w} Shopping Network, Co", "{w} Gift Distributors Ltd.",
    "{p} & Co", "{w} Toys Co.", "{c} Mini Autos", "{w} Replicas, Inc.", "{p} Hobby Shop",
)  # fmt: skip
COMPANY_WORDS = (
    "Atelier", "Signal", "Royal", "Euro", "Vitachrome", "Dragon", "Alpha", "Corporate",
    "Heritage", "Gift Depot", "Classic", "Marta's", "Toys4", "Saveley", "Herkku", "Cruz",
    "Diecast", "Online", "Boards", "Double", "Motor", "Precious", "Auto", "Vintage",
)  # fmt: skip

OFFICE_DOMAIN = "classicmodelcars.com"

#: Offices: (city, phone, addressLine1, addressLine2, state, country, postalCode, territory).
#: The first seven are the sample's; the rest open as the business grows (scale > 1).
OFFICES: tuple[tuple[str, str, str, str | None, str | None, str, str, Territory], ...] = (
    ("San Francisco", "+1 650 219 4782", "100 Market Street", "Suite 300", "CA", "USA",
     "94080", "NA"),
    ("Boston", "+1 215 837 0825", "1550 Court Place", "Suite 102", "MA", "USA", "02107", "NA"),
    ("NYC", "+1 212 555 3000", "523 East 53rd Street", "apt. 5A", "NY", "USA", "10022", "NA"),
    ("Paris", "+33 14 723 4404", "43 Rue Jouffroy D'abbans", None, None, "France", "75017",
     "EMEA"),
    ("Tokyo", "+81 33 224 5000", "4-1 Kioicho", None, "Chiyoda-Ku", "Japan", "102-8578",
     "Japan"),
    ("Sydney", "+61 2 9264 2451", "5-11 Wentworth Avenue", "Floor #2", None, "Australia",
     "NSW 2010", "APAC"),
    ("London", "+44 20 7877 2041", "25 Old Broad Street", "Level 7", None, "UK", "EC2N 1HN",
     "EMEA"),
    ("Chicago", "+1 312 555 0182", "233 South Wacker Drive", "Floor 40", "IL", "USA", "60606",
     "NA"),
    ("Berlin", "+49 30 555 2210", "Friedrichstraße 68", None, None, "Germany", "10117", "EMEA"),
    ("Singapore", "+65 6555 0199", "1 Raffles Place", "Tower 2", None, "Singapore", "048616",
     "APAC"),
    ("Toronto", "+1 416 555 0147", "100 King Street West", "Suite 5600", "ON", "Canada",
     "M5X 1C9", "NA"),
    ("Madrid", "+34 91 555 0133", "Paseo de la Castellana 95", None, None, "Spain", "28046",
     "EMEA"),
    ("Osaka", "+81 6 5555 0110", "3-3 Umeda", None, "Kita-ku", "Japan", "530-0001", "Japan"),
    ("Melbourne", "+61 3 9555 0120", "101 Collins Street", "Level 12", None, "Australia",
     "VIC 3000", "APAC"),
    ("Milan", "+39 02 5555 0170", "Via Dante 4", None, None, "Italy", "20121", "EMEA"),
)  # fmt: skip

SCALES = ("1:10", "1:12", "1:18", "1:24", "1:32", "1:50", "1:72", "1:700")

VENDORS = (
    "Autoart Studio Design", "Carousel DieCast Legends", "Classic Metal Creations",
    "Exoto Designs", "Gearbox Collectibles", "Highway 66 Mini Classics", "Min Lin Diecast",
    "Motor City Art Classics", "Red Start Diecast", "Second Gear Diecast", "Studio M Art Models",
    "Unimax Art Galleries", "Welly Diecast Productions",
)  # fmt: skip


@dataclass(frozen=True)
class ProductLine:
    """A product line: its share of the catalogue, usual scales, price level and models."""

    name: str
    share: float
    scales: tuple[str, ...]
    buy_price: float  # typical buyPrice
    years: tuple[int, int] | None  # model years, None when names carry no year
    models: tuple[str, ...]
    features: tuple[str, ...]
    text: str


PRODUCT_LINES: tuple[ProductLine, ...] = (
    ProductLine("Classic Cars", 0.35, ("1:18", "1:24", "1:10", "1:12"), 65.0, (1948, 2003), (
        "Ferrari Enzo", "Ford Mustang", "Alpine Renault 1300", "Alfa Romeo GTA",
        "Lancia Delta 16V", "Chevrolet Corvette", "Porsche 911", "Mercedes-Benz SL",
        "Dodge Charger", "Jaguar E-Type", "Plymouth Superbird", "Aston Martin DB5",
        "Lamborghini Miura", "BMW M1", "Toyota Supra", "Pontiac GTO", "Shelby Cobra",
        "Chevy Camaro Z28", "Datsun 240Z", "Volkswagen Beetle",
    ), ("opening hood", "opening trunk", "opening doors", "turnable front wheels",
        "steering function", "detailed interior", "detailed engine", "rubber tires"),
        "Muscle cars, dream sports cars and movie cars, with superb detail."),
    ProductLine("Motorcycles", 0.12, ("1:10", "1:12", "1:18", "1:24", "1:32", "1:50"), 50.0,
        (1936, 2003), (
        "Harley Davidson Ultimate Chopper", "Moto Guzzi 1100i", "Harley-Davidson Eagle Drag Bike",
        "Ducati 900 Monster", "Triumph Bonneville", "BMW R 1100 S", "Honda CB750",
        "Indian Chief", "Suzuki XREO", "Vespa GS", "Kawasaki Z1", "Norton Commando",
    ), ("working kickstand", "front suspension", "gear-shift lever", "drive chain",
        "rotating wheels", "official logos", "chrome accents", "leather seat"),
        "Classic and contemporary motorcycle legends with working parts."),
    ProductLine("Planes", 0.11, ("1:72", "1:24", "1:18", "1:700"), 50.0, (1903, 2001), (
        "Spitfire", "P-51 Mustang", "Corsair F4U", "Boeing 757", "Douglas DC-3",
        "Lockheed Constellation", "Sopwith Camel", "Fokker Dr.I", "Concorde", "Piper Cub",
        "Blue Angels F-18", "Curtiss Jenny",
    ), ("rotating propellers", "retractable wheels", "official insignias", "opening canopy",
        "display stand", "detailed cockpit"),
        "Diecast airplane and helicopter replicas for collections and classrooms."),
    ProductLine("Ships", 0.08, ("1:700", "1:72", "1:18"), 45.0, None, (
        "HMS Bounty", "The Titanic", "The Mayflower", "USS Constitution", "Pont Yacht",
        "The Queen Mary", "Black Pearl", "Clipper Cutty Sark", "Santa Maria", "Battleship Bismarck",
    ), ("handcrafted hull", "linen sails", "brass fittings", "wooden display base",
        "hand-tied rigging", "working anchor"),
        "Handcrafted model ships, fully assembled and ready for display."),
    ProductLine("Trains", 0.03, ("1:32", "1:50", "1:18"), 40.0, None, (
        "Collectable Wooden Train", "Northern Pacific Locomotive", "Flying Scotsman",
        "Orient Express Carriage", "Union Pacific Big Boy", "Electric Streetcar",
    ), ("metal wheels", "detailed cab", "coupling hooks", "painted livery", "working lights"),
        "Model trains for enthusiasts of all ages, from wooden toys to locomotives."),
    ProductLine("Trucks and Buses", 0.10, ("1:12", "1:18", "1:24", "1:32", "1:50"), 55.0,
        (1926, 2002), (
        "Ford F-150", "Diamond T620 Semi-Skirted Tanker", "Mack Road Tractor", "Volvo FH16",
        "Greyhound Scenicruiser", "London Routemaster Bus", "Chevy Pickup", "Dodge Power Wagon",
        "International Harvester", "Kenworth W900",
    ), ("opening doors", "detailed chassis", "rubber tires", "tilting cab", "authentic livery",
        "working tailgate"),
        "Buses and specialised trucks from the early 1920s to the present."),
    ProductLine("Vintage Cars", 0.21, ("1:18", "1:24", "1:32", "1:50"), 45.0, (1903, 1940), (
        "Ford Model T", "Mercedes Simplex", "Bugatti Royale", "Duesenberg SJ", "Packard Boattail",
        "Rolls-Royce Phantom", "Cadillac V-16", "Chrysler Airflow", "Hispano-Suiza",
        "Stutz Bearcat", "Pierce-Arrow", "Bentley Blower",
    ), ("spoked wheels", "folding top", "brass headlamps", "detailed engine", "spare tire",
        "running boards"),
        "Automobiles from the early 1900s through the 1940s in bakelite, diecast and wood."),
)  # fmt: skip

COMMENTS: dict[str, tuple[str, ...]] = {
    "Shipped": (
        "Check on availability.",
        "Customer requested that FedEx Ground is used.",
        "Custom shipping instructions sent to warehouse.",
        "Customer is interested in buying more Ferrari models.",
        "They want to reevaluate their terms agreement with Finance.",
        "Customer requested that DHL is used for this shipping.",
        "Can we renegotiate this one?",
        "Customer asked for posters to be included.",
    ),
    "Cancelled": (
        "Customer called to cancel; the warehouse was notified in time.",
        "Customer cancelled due to budgeting issues.",
        "Order was mistakenly placed; the warehouse noticed the missing documentation.",
        "Customer found a better offer from a competitor.",
    ),
    "Resolved": (
        "Order was disputed and resolved after a partial credit.",
        "Disputed colours; resolved by replacing two models.",
    ),
    "Disputed": (
        "Customer claims the models arrived damaged.",
        "Customer disputes the invoiced quantities.",
        "Colour of the models does not match the catalogue; customer disputes the order.",
    ),
    "On Hold": (
        "Customer credit limit exceeded; order on hold until payment is received.",
        "Waiting for the customer to confirm the shipping address.",
    ),
}


COUNTRY_BY_NAME = {c.name: c for c in COUNTRIES}


def fill(rng: Random, pattern: str) -> str:
    """Replace each ``#`` in a pattern with a random digit and each ``@`` with a capital letter."""
    return "".join(
        str(rng.randrange(10)) if ch == "#" else chr(65 + rng.randrange(26)) if ch == "@" else ch
        for ch in pattern
    )


def address(rng: Random, country: Country) -> tuple[str, str, str | None, str | None]:
    """A street address in a country: (addressLine1, city, state, postalCode)."""
    city, state, prefix = rng.choice(country.cities)
    pattern, streets = STREETS[country.people]
    line1 = pattern.format(n=rng.randrange(1, 9999), s=rng.choice(streets))
    postal = prefix + fill(rng, country.postal[len(prefix) :]) if country.postal else None
    return line1, city, state, postal


def person(rng: Random, people: str) -> tuple[str, str]:
    """A (first name, last name) pair from a language group."""
    first, last = PEOPLE[people]
    return rng.choice(first), rng.choice(last)
