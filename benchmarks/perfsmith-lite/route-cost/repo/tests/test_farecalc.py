import pytest
from farecalc import (
    Network,
    NetworkFormatError,
    UnknownStation,
    fare_matrix,
    format_cents,
    format_journey,
    plan,
)

TEXT = """
# a small city
U1 | Central, Museum, Park, Zoo | 120, 90, 100
T4 | Museum, Harbour            | 150   # tram
B7 | Central, Harbour           | 400
S2 | Park, Harbour, Airport     | 60, 300
"""


@pytest.fixture
def net():
    return Network.from_text(TEXT)


def test_parse(net):
    assert net.stations == ("Airport", "Central", "Harbour", "Museum", "Park", "Zoo")
    assert net.lines == ("B7", "S2", "T4", "U1")
    assert [(s.to, s.line, s.fare) for s in net.segments("Harbour")] == [
        ("Airport", "S2", 300),
        ("Central", "B7", 400),
        ("Museum", "T4", 150),
        ("Park", "S2", 60),
    ]
    assert net.segments("Nowhere") == ()


@pytest.mark.parametrize(
    "text",
    [
        "U1 | A, B",
        "U1 | A, B | x",
        "U1 | A, B, C | 10",
        "U1 | A | ",
        "U1 | A, B | -5",
        "U1 | A, B | 1\nU1 | B, C | 1",
    ],
)
def test_parse_errors(text):
    with pytest.raises(NetworkFormatError):
        Network.from_text(text)


def test_cheapest_prefers_fewer_boardings(net):
    journey = plan(net, "Central", "Harbour")
    # U1 then T4: 120 + 150 + 2*80 = 430; B7 direct: 400 + 80 = 480;
    # U1 to Park then S2: 120 + 90 + 60 + 2*80 = 430.
    assert journey.cost == 430
    assert journey.stops == ("Central", "Museum", "Harbour")  # tie: alphabetically first stops
    assert journey.lines == ("U1", "T4") and journey.boardings == 2


def test_stop_limit_changes_answer(net):
    assert plan(net, "Central", "Airport", max_stops=2).cost == 400 + 300 + 2 * 80
    assert plan(net, "Central", "Airport", max_stops=2).stops == ("Central", "Harbour", "Airport")
    assert plan(net, "Central", "Airport", max_stops=1) is None
    # U1 to Park, then S2 all the way: cheaper than changing twice via the tram.
    longer = plan(net, "Central", "Airport", max_stops=8)
    assert longer.cost == 120 + 90 + 60 + 300 + 2 * 80
    assert longer.lines == ("U1", "U1", "S2", "S2")


def test_boarding_fee_zero_and_same_station(net):
    assert plan(net, "Zoo", "Central", boarding_fee=0).cost == 310
    journey = plan(net, "Zoo", "Zoo", max_stops=0)
    assert journey.cost == 0 and journey.stops == ("Zoo",) and journey.boardings == 0
    assert format_journey(journey) == "stay at Zoo: 0.00"


def test_unreachable_and_errors():
    net = Network.from_text("A1 | North, South | 50\nB1 | East, West | 50")
    assert plan(net, "North", "West") is None
    assert fare_matrix(net, [("North", "South"), ("North", "East")]) == {
        ("North", "South"): 130,
        ("North", "East"): None,
    }
    with pytest.raises(UnknownStation):
        plan(net, "North", "Atlantis")
    with pytest.raises(ValueError):
        plan(net, "North", "South", max_stops=-1)


def test_fare_matrix_matches_plan(net):
    pairs = [(a, b) for a in net.stations for b in net.stations]
    matrix = fare_matrix(net, pairs, max_stops=5)
    assert len(matrix) == 36
    for (a, b), cost in matrix.items():
        assert cost == plan(net, a, b, max_stops=5).cost
        assert matrix[(b, a)] == cost  # segments run both ways at the same fare


def test_unicode_station_names_and_format():
    net = Network.from_text("M1 | Hauptbahnhof, Königsplatz, Straße 3 | 100, 205")
    journey = plan(net, "Straße 3", "Hauptbahnhof")
    assert journey.stops == ("Straße 3", "Königsplatz", "Hauptbahnhof")
    assert format_journey(journey) == "M1: Straße 3 -> Hauptbahnhof\ntotal 3.85"
    assert format_journey(None) == "no route"
    assert format_cents(-5) == "-0.05"
