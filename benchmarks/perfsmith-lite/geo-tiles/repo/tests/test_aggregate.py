import pytest
from tilecount import Feature, aggregate, features_from_geojson, top_tiles


def berlin(props=None, dlon=0.0):
    return Feature(13.405 + dlon, 52.52, props or {})


def test_empty_input():
    result = aggregate([], 10)
    assert result.tiles == () and result.skipped == 0 and result.total == 0


def test_counts_weights_and_order():
    features = [
        berlin({"orders": 2}),
        berlin({"orders": 3.5}),
        Feature(-0.1276, 51.5072, {"orders": 1}),
        berlin({"orders": None}),
        berlin({}),
    ]
    result = aggregate(features, 10, weight="orders")
    assert [(t.tile.x, t.tile.y, t.count, t.weight) for t in result.tiles] == [
        (511, 340, 1, 1.0),
        (550, 335, 4, 5.5),
    ]
    assert result.tiles[1].quadkey == "1202102332"
    unweighted = aggregate(features, 10)
    assert [t.weight for t in unweighted.tiles] == [1.0, 4.0]


def test_polar_points_are_skipped_and_bad_input_rejected():
    result = aggregate([Feature(0.0, 89.9), Feature(0.0, -86.0), berlin()], 4)
    assert result.skipped == 2 and result.total == 1
    with pytest.raises(ValueError):
        aggregate([Feature(200.0, 0.0)], 4)
    with pytest.raises(ValueError):
        aggregate([berlin()], -1)


def test_where_filter_and_inputs_untouched():
    props = {"status": "delivered", "orders": 1}
    features = [berlin(props), berlin({"status": "failed", "orders": 9}), berlin(props)]
    result = aggregate(features, 8, weight="orders", where={"status": "delivered"})
    assert [(t.count, t.weight) for t in result.tiles] == [(2, 2.0)]
    assert props == {"status": "delivered", "orders": 1}
    assert aggregate(features, 8, where={"status": "lost"}).tiles == ()


def test_neighbouring_tiles_split_at_high_zoom():
    features = [berlin(dlon=i * 0.01) for i in range(5)]
    assert len(aggregate(features, 0).tiles) == 1
    assert len(aggregate(features, 16).tiles) == 5


def test_top_tiles_ties_by_quadkey():
    features = [Feature(1.0, 1.0), Feature(-1.0, 1.0), Feature(1.0, -1.0), Feature(1.0, -1.0)]
    result = aggregate(features, 1)
    assert [(t.quadkey, t.count) for t in top_tiles(result, 2)] == [("3", 2), ("0", 1)]
    assert top_tiles(result, 0) == []


def test_geojson_reader():
    collection = {
        "type": "FeatureCollection",
        "features": [
            {
                "geometry": {"type": "Point", "coordinates": [13.4, 52.5, 30.0]},
                "properties": {"a": 1},
            },
            {"geometry": {"type": "LineString", "coordinates": [[0, 0], [1, 1]]}},
            {"geometry": None},
        ],
    }
    assert features_from_geojson(collection) == [Feature(13.4, 52.5, {"a": 1})]
    with pytest.raises(ValueError):
        features_from_geojson({"type": "Feature"})
