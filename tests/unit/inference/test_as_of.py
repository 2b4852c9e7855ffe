"""The online store holds each customer's latest features: a prediction for a time before
their day is refused, not answered with features from its future."""

from datetime import datetime

import pytest

from ml.inference.online_serving import BeforeTheFeatures, check_as_of

WATERMARK = {
    "customer_features": {"as_of": "2025-12-30"},
    "customer_attributes": {"as_of": "2025-12-28T06:17:40"},
}


@pytest.mark.parametrize("when", ["2025-12-30T00:00:00", "2025-12-30T23:59:59", "2026-06-01"])
def test_the_features_day_and_later_are_served(when):
    check_as_of(datetime.fromisoformat(when), WATERMARK)


def test_an_earlier_time_is_refused_naming_the_view_and_its_day():
    with pytest.raises(BeforeTheFeatures) as raised:
        check_as_of(datetime(2025, 12, 29, 23, 0), WATERMARK)
    assert raised.value.http_status == 422
    assert "(customer_features as of 2025-12-30)" in raised.value.message
    # The latest of the views' days is the one named: the earliest time served.
    with pytest.raises(BeforeTheFeatures, match="customer_features as of 2025-12-30"):
        check_as_of(datetime(2025, 12, 27), WATERMARK)
    with pytest.raises(BeforeTheFeatures, match="customer_attributes as of 2025-12-28"):
        check_as_of(datetime(2025, 12, 27), {"customer_attributes": {"as_of": "2025-12-28"}})
    check_as_of(datetime(2025, 12, 27), {})
    check_as_of(datetime(2025, 12, 27), {"customer_features": {"as_of": None}})
