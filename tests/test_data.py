import math
import os
import subprocess
import sys

import numpy as np
import pytest

from tinygrad_rnn.data import (
    DailySeries,
    MinMaxScaler,
    StandardScaler,
    Vocabulary,
    chronological_split,
    lagged_features,
    load_csv,
    lookback_pairs_dropping_last,
    seattle_weather,
    sentiment_data,
    sine_task,
    sliding_windows,
    temperature_task,
    weather_task,
)
from tinygrad_rnn.data.scalers import scaler_from_dict
from tinygrad_rnn.data.text import words_of
from tinygrad_rnn.errors import (
    DataError,
    MissingValueError,
    TinygradRNNError,
    UnknownWordError,
)

POSITIVE_WORDS = {"good", "happy", "great", "fine"}
NEGATIVE_WORDS = {"bad", "sad", "awful", "terrible"}
NEUTRAL_WORDS = {"i", "am", "is", "was", "this", "it", "very", "really"}


@pytest.fixture(scope="module")
def weather():
    return seattle_weather()


# windows


def test_many_to_one_windows_of_a_1d_series():
    series = np.arange(10.0)
    inputs, targets = sliding_windows(series, 3)
    assert inputs.shape == (7, 3, 1)
    assert targets.shape == (7, 1)
    np.testing.assert_array_equal(inputs[0, :, 0], [0, 1, 2])
    np.testing.assert_array_equal(inputs[-1, :, 0], [6, 7, 8])
    np.testing.assert_array_equal(targets[:, 0], np.arange(3, 10))


def test_horizon_moves_the_target_further_ahead():
    inputs, targets = sliding_windows(np.arange(10.0), 3, horizon=2)
    assert inputs.shape == (6, 3, 1)
    np.testing.assert_array_equal(targets[:, 0], np.arange(4, 10))


def test_many_to_many_targets_every_step():
    inputs, targets = sliding_windows(np.arange(10.0), 4, many_to_many=True)
    assert inputs.shape == (6, 4, 1)
    assert targets.shape == (6, 4, 1)
    np.testing.assert_array_equal(targets[:, :, 0], inputs[:, :, 0] + 1)


def test_table_windows_read_the_chosen_target_column():
    table = np.column_stack([np.arange(8.0), 100 + np.arange(8.0)])
    inputs, targets = sliding_windows(table, 2, target_columns=1)
    assert inputs.shape == (6, 2, 2)
    assert targets.shape == (6, 1)
    np.testing.assert_array_equal(inputs[1], [[1, 101], [2, 102]])
    np.testing.assert_array_equal(targets[:, 0], 100 + np.arange(2, 8))
    _, both = sliding_windows(table, 2, many_to_many=True, target_columns=[0, 1])
    assert both.shape == (6, 2, 2)


def test_separate_targets_with_horizon_zero_are_read_from_the_same_rows():
    features = np.arange(6.0)
    labels = 10 * np.arange(6.0)
    inputs, targets = sliding_windows(features, 3, horizon=0, many_to_many=True, targets=labels)
    assert inputs.shape == (4, 3, 1)
    np.testing.assert_array_equal(targets[:, :, 0], 10 * inputs[:, :, 0])


def test_windows_are_copies():
    series = np.arange(5.0)
    inputs, _ = sliding_windows(series, 2)
    inputs[0, 0, 0] = 99.0
    assert series[0] == 0.0


def test_too_few_rows_error_says_how_many():
    with pytest.raises(ValueError, match=r"got 4 rows, need at least 5"):
        sliding_windows(np.arange(4.0), 4)
    with pytest.raises(ValueError, match=r"got 4 rows, need at least 6"):
        sliding_windows(np.arange(4.0), 3, horizon=3)


def test_window_argument_errors():
    with pytest.raises(ValueError, match="length must be >= 1"):
        sliding_windows(np.arange(5.0), 0)
    with pytest.raises(ValueError, match="horizon must be >= 0"):
        sliding_windows(np.arange(5.0), 2, horizon=-1)
    with pytest.raises(TypeError, match="length must be an integer"):
        sliding_windows(np.arange(5.0), 2.5)
    with pytest.raises(ValueError, match="shape"):
        sliding_windows(np.zeros((2, 2, 2)), 1)
    with pytest.raises(IndexError, match="target column 2"):
        sliding_windows(np.zeros((5, 2)), 2, target_columns=2)
    with pytest.raises(ValueError, match="not both"):
        sliding_windows(np.zeros((5, 2)), 2, target_columns=0, targets=np.zeros(5))
    with pytest.raises(ValueError, match="aligned"):
        sliding_windows(np.zeros(5), 2, targets=np.zeros(4))


def _create_dataset_as_in_document_000(dataset, look_back):
    features, labels = [], []
    for i in range(len(dataset) - look_back - 1):
        features.append(dataset[i : (i + look_back), 0])
        labels.append(dataset[i + look_back, 0])
    return np.array(features), np.array(labels)


@pytest.mark.parametrize("look_back", [1, 3, 5])
def test_lookback_pairs_match_document_000_including_the_dropped_last_pair(look_back):
    dataset = np.random.default_rng(0).random((20, 1))
    features, labels = lookback_pairs_dropping_last(dataset, look_back)
    expected_features, expected_labels = _create_dataset_as_in_document_000(dataset, look_back)
    assert features.shape == (20 - look_back - 1, look_back)
    assert labels.shape == (20 - look_back - 1,)
    np.testing.assert_array_equal(features, expected_features)
    np.testing.assert_array_equal(labels, expected_labels)


def test_lookback_pairs_too_few_rows():
    with pytest.raises(ValueError, match=r"got 4 rows, need at least 5"):
        lookback_pairs_dropping_last(np.arange(4.0), 3)


def test_lagged_features_rows():
    expected = [[0, 1, 2], [1, 2, 3], [2, 3, 4]]
    np.testing.assert_array_equal(lagged_features(np.arange(5.0), 3), expected)


# scalers


@pytest.mark.parametrize("scaler_class", [MinMaxScaler, StandardScaler])
def test_scaler_round_trip_on_windows(scaler_class):
    table = np.random.default_rng(1).normal(5.0, 3.0, size=(30, 3))
    scaler = scaler_class().fit(table)
    windows, _ = sliding_windows(table, 4)
    restored = scaler.inverse_transform(scaler.transform(windows))
    np.testing.assert_allclose(restored, windows)
    np.testing.assert_allclose(scaler.transform(windows)[0], scaler.transform(table[:4]))


def test_one_column_fit_scales_any_shape_elementwise():
    scaler = MinMaxScaler().fit(np.array([2.0, 4.0, 6.0]))
    lag_windows = np.array([[[2.0, 4.0], [4.0, 6.0]]])
    np.testing.assert_allclose(scaler.transform(lag_windows), [[[0.0, 0.5], [0.5, 1.0]]])
    np.testing.assert_allclose(scaler.inverse_transform(scaler.transform(lag_windows)), lag_windows)


def test_minmax_maps_training_range_to_unit_interval_and_leaves_test_outside():
    train = np.array([[0.0, 10.0], [5.0, 20.0], [10.0, 30.0]])
    test = np.array([[20.0, 0.0]])
    scaler = MinMaxScaler()
    np.testing.assert_allclose(scaler.fit_transform(train), [[0, 0], [0.5, 0.5], [1, 1]])
    np.testing.assert_allclose(scaler.transform(test), [[2.0, -0.5]])
    np.testing.assert_array_equal(scaler.min_, [0, 10])
    np.testing.assert_array_equal(scaler.max_, [10, 30])


def test_standard_scaler_uses_training_statistics_only():
    train = np.array([1.0, 2.0, 3.0, 4.0])
    scaler = StandardScaler().fit(train)
    assert scaler.mean_[0] == 2.5
    assert scaler.std_[0] == pytest.approx(np.std(train))
    scaled = scaler.transform(np.array([2.5, 100.0]))
    assert scaled.shape == (2,)
    assert scaled[0] == 0.0
    assert scaled[1] == pytest.approx((100 - 2.5) / np.std(train))
    z = scaler.transform(train)
    assert z.mean() == pytest.approx(0.0)
    assert z.std() == pytest.approx(1.0)


@pytest.mark.parametrize("scaler_class", [MinMaxScaler, StandardScaler])
def test_constant_column_maps_to_zero_without_dividing_by_zero(scaler_class):
    table = np.column_stack([np.full(7, 7.0), np.full(7, 0.1), np.arange(7.0)])
    with np.errstate(all="raise"):
        scaled = scaler_class().fit_transform(table)
    np.testing.assert_array_equal(scaled[:, :2], 0.0)
    assert np.all(np.isfinite(scaled))


@pytest.mark.parametrize("scaler_class", [MinMaxScaler, StandardScaler])
def test_scaler_errors(scaler_class):
    with pytest.raises(RuntimeError, match="not fitted yet"):
        scaler_class().transform(np.zeros(3))
    with pytest.raises(RuntimeError, match="not fitted yet"):
        scaler_class().inverse_transform(np.zeros(3))
    fitted = scaler_class().fit(np.zeros((4, 3)))
    assert fitted.num_features == 3
    with pytest.raises(ValueError, match="fitted on 3 feature columns"):
        fitted.transform(np.zeros((4, 2)))
    with pytest.raises(ValueError, match="1-D array is a single column"):
        fitted.transform(np.zeros(3))
    with pytest.raises(ValueError, match="NaN or infinite"):
        scaler_class().fit(np.array([1.0, np.nan]))
    with pytest.raises(ValueError, match="at least one row"):
        scaler_class().fit(np.zeros((0, 2)))


# splits


def test_split_train_test_in_time_order():
    series = np.arange(100)
    train, test = chronological_split(series, (0.67,))
    np.testing.assert_array_equal(train, np.arange(67))
    np.testing.assert_array_equal(test, np.arange(67, 100))


def test_split_train_valid_test_sizes_without_float_round_off():
    train, valid, test = chronological_split(np.arange(1460), (0.7, 0.15))
    assert (len(train), len(valid), len(test)) == (1022, 219, 219)
    np.testing.assert_array_equal(np.concatenate([train, valid, test]), np.arange(1460))


def test_split_keeps_trailing_axes():
    pieces = chronological_split(np.zeros((10, 3, 2)), [0.5])
    assert [piece.shape for piece in pieces] == [(5, 3, 2), (5, 3, 2)]


@pytest.mark.parametrize(
    ("fractions", "message"),
    [
        ((), "at least one share"),
        ((0.0,), "strictly between 0 and 1"),
        ((1.2,), "strictly between 0 and 1"),
        ((0.7, 0.3), "sum must be below 1"),
        ((0.7, 0.15, 0.15), "sum must be below 1"),
    ],
)
def test_split_rejects_bad_fractions(fractions, message):
    with pytest.raises(ValueError, match=message):
        chronological_split(np.arange(10), fractions)


def test_split_rejects_a_bare_number_and_empty_pieces():
    with pytest.raises(TypeError, match="sequence"):
        chronological_split(np.arange(10), 0.5)
    with pytest.raises(ValueError, match="piece 0 .* would be empty with 3 rows"):
        chronological_split(np.arange(3), (0.2,))


# loaders


def test_seattle_weather(weather):
    assert len(weather.dates) == 1461
    assert weather.dates.dtype == np.dtype("datetime64[D]")
    assert weather.dates[0] == np.datetime64("2012-01-01")
    assert weather.dates[-1] == np.datetime64("2015-12-31")
    assert weather.temp_max[0] == 12.8
    assert weather.temp_min[0] == 5.0
    assert weather.precipitation[0] == 0.0
    assert weather.wind[0] == 4.7
    for column in (weather.precipitation, weather.temp_max, weather.temp_min, weather.wind):
        assert column.dtype == np.float64 and column.shape == (1461,)


def test_seattle_loader_does_not_import_pandas():
    code = (
        "import sys; from tinygrad_rnn.data import seattle_weather; seattle_weather(); print('pandas' in sys.modules)"
    )
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=environment, check=True)
    assert result.stdout.strip() == "False"


def _write(tmp_path, text):
    path = tmp_path / "data.csv"
    path.write_text(text)
    return path


GOOD_CSV = "day,tmax,tmin,rain\n2020-01-01,10,2,0.5\n2020-01-02,11,3,0\n2020/01/03,9.5,1,1.2\n\n"


def test_load_csv_reads_features_target_and_dates(tmp_path):
    data = load_csv(_write(tmp_path, GOOD_CSV), "day", ["tmax", "rain"], "tmax")
    assert isinstance(data, DailySeries)
    assert data.feature_names == ("tmax", "rain")
    assert data.target_name == "tmax"
    np.testing.assert_array_equal(data.features, [[10, 0.5], [11, 0], [9.5, 1.2]])
    np.testing.assert_array_equal(data.target, [10, 11, 9.5])
    expected_dates = np.array(["2020-01-01", "2020-01-02", "2020-01-03"], dtype="datetime64[D]")
    np.testing.assert_array_equal(data.dates, expected_dates)


def test_load_csv_missing_column_lists_available(tmp_path):
    message = r"no column 'wind'; available columns: day, tmax, tmin, rain"
    with pytest.raises(ValueError, match=message):
        load_csv(_write(tmp_path, GOOD_CSV), "day", ["tmax", "wind"], "tmax")


@pytest.mark.parametrize(
    ("bad_value", "message"),
    [
        ("nan", r"the value is missing \('nan', a missing-value marker\)"),
        ("", r"the value is missing \(empty\)"),
        ("inf", "not a finite number"),
        ("warm", "is not a number"),
    ],
)
def test_load_csv_bad_value_names_line_and_column(tmp_path, bad_value, message):
    text = f"day,tmax,tmin,rain\n2020-01-01,10,2,0.5\n2020-01-02,11,{bad_value},0\n"
    with pytest.raises(ValueError, match=rf"line 3, column 'tmin': .*{message}"):
        load_csv(_write(tmp_path, text), "day", ["tmax", "tmin"], "tmax")


def test_load_csv_bad_dates_and_ragged_rows(tmp_path):
    with pytest.raises(ValueError, match=r"line 2, column 'day': cannot read 'soon' as a date"):
        load_csv(_write(tmp_path, "day,tmax\nsoon,1\n2020-01-02,2\n"), "day", ["tmax"], "tmax")
    with pytest.raises(ValueError, match=r"line 3, column 'day': .*increasing date order"):
        unordered = "day,tmax\n2020-01-02,1\n2020-01-01,2\n"
        load_csv(_write(tmp_path, unordered), "day", ["tmax"], "tmax")
    with pytest.raises(ValueError, match=r"line 3 has 1 fields but the header has 2"):
        load_csv(_write(tmp_path, "day,tmax\n2020-01-01,1\n2020-01-02\n"), "day", ["tmax"], "tmax")


def test_load_csv_too_few_rows(tmp_path):
    with pytest.raises(ValueError, match=r"has 1 data rows; at least 2 are needed"):
        load_csv(_write(tmp_path, "day,tmax\n2020-01-01,1\n"), "day", ["tmax"], "tmax")
    with pytest.raises(ValueError, match=r"has 3 data rows; at least 8 are needed"):
        load_csv(_write(tmp_path, GOOD_CSV), "day", ["tmax"], "tmax", min_rows=8)
    with pytest.raises(ValueError, match="is empty"):
        load_csv(_write(tmp_path, ""), "day", ["tmax"], "tmax")


# tasks


def test_temperature_task_shapes_and_scaling(weather):
    task = temperature_task()
    train_rows = int(0.67 * 1461)
    assert task.train.inputs.shape == (train_rows - 1, 1, 1)
    assert task.train.targets.shape == (train_rows - 1, 1)
    assert task.test.inputs.shape == (1461 - train_rows - 1, 1, 1)
    assert task.scaler.min_[0] == weather.temp_min[:train_rows].min()
    assert task.train.inputs.min() == 0.0 and task.train.targets.max() == 1.0
    test_targets = task.scaler.inverse_transform(task.test.targets[:, 0])
    np.testing.assert_allclose(test_targets, weather.temp_min[train_rows + 1 :])
    np.testing.assert_array_equal(task.test.persistence, task.test.inputs[:, -1, :])


def test_temperature_task_look_back_matches_document_000_windows():
    series = np.sin(np.arange(60) / 5.0)
    task = temperature_task(look_back=3, series=series)
    train_rows = int(0.67 * 60)
    scaled_train = task.scaler.transform(series[:train_rows])[:, None]
    features, labels = _create_dataset_as_in_document_000(scaled_train, 3)
    assert task.train.inputs.shape == (train_rows - 3, 1, 3)
    np.testing.assert_allclose(task.train.inputs[:-1, 0, :], features)
    np.testing.assert_allclose(task.train.targets[:-1, 0], labels)


def test_temperature_task_sequences():
    series = np.arange(100.0)
    task = temperature_task(look_back=2, seq_len=5, series=series)
    assert task.train.inputs.shape == (67 - 6, 5, 2)
    raw = task.scaler.inverse_transform(task.train.inputs[0])
    np.testing.assert_allclose(raw, [[0, 1], [1, 2], [2, 3], [3, 4], [4, 5]])
    assert task.scaler.inverse_transform(task.train.targets[0])[0] == pytest.approx(6.0)
    message = "test split has 4 rows; look_back 2 and seq_len 5 need at least 7"
    with pytest.raises(ValueError, match=message):
        temperature_task(look_back=2, seq_len=5, series=np.arange(12.0))


def test_weather_task_shapes_units_and_persistence(weather):
    task = weather_task()
    pairs = 1460
    sizes = (1022, 219, 219)
    for windows, size in zip((task.train, task.valid, task.test), sizes):
        assert windows.inputs.shape == (size - 6, 7, 3)
        assert windows.targets.shape == (size - 6, 7, 1)
        assert windows.persistence.shape == (size - 6, 7, 1)
    assert task.feature_names == ("temp_max", "temp_min", "precipitation")
    train_days = slice(0, 1022)
    training_means = [
        weather.temp_max[train_days].mean(),
        weather.temp_min[train_days].mean(),
        weather.precipitation[train_days].mean(),
    ]
    np.testing.assert_allclose(task.scaler.mean_, training_means)
    np.testing.assert_allclose(task.train.targets[0, :, 0], weather.temp_max[1:8])
    np.testing.assert_allclose(task.train.persistence[0, :, 0], weather.temp_max[0:7])
    first_window = task.scaler.inverse_transform(task.train.inputs[0])
    np.testing.assert_allclose(first_window[:, 0], weather.temp_max[0:7])
    valid_start = 1022
    valid_days = slice(valid_start + 1, valid_start + 8)
    np.testing.assert_allclose(task.valid.targets[0, :, 0], weather.temp_max[valid_days])
    np.testing.assert_allclose(task.test.targets[-1, -1, 0], weather.temp_max[pairs])
    assert abs(task.train.inputs.reshape(-1, 3).mean(axis=0)).max() < 0.01


def test_weather_task_on_user_data():
    days = 40
    data = DailySeries(
        dates=np.arange(days).astype("datetime64[D]"),
        features=np.column_stack([np.arange(days), np.ones(days)]).astype(float),
        feature_names=("t", "c"),
        target=np.arange(days, dtype=float),
        target_name="t",
    )
    task = weather_task(window=3, fractions=(0.5, 0.25), data=data)
    assert task.train.inputs.shape == (19 - 2, 3, 2)
    np.testing.assert_array_equal(task.train.targets - task.train.persistence, 1.0)
    with pytest.raises(ValueError, match="two fractions"):
        weather_task(fractions=(0.67,), data=data)
    with pytest.raises(ValueError, match="fewer than the window of 20"):
        weather_task(window=20, fractions=(0.5, 0.25), data=data)


def test_sine_task_reproduces_document_004():
    task = sine_task()
    assert task.x.shape == task.y.shape == (1000,)
    assert task.y[7] == math.sin(7 * (10 * math.pi) / 1000 / 20)
    assert task.train.inputs.shape == task.validation.inputs.shape == (247, 4, 1)
    assert task.train.targets.shape == (247, 1)
    first_points = [math.sin(i * (10 * math.pi) / 1000 / 20) for i in range(5)]
    np.testing.assert_allclose(task.train.inputs[0, :, 0], first_points[:4], rtol=0, atol=1e-15)
    assert task.train.targets[0, 0] == pytest.approx(first_points[4], abs=1e-15)
    assert task.validation_offset == 375
    rows = 250
    x_train = np.zeros((rows, 4))
    y_train = np.zeros(rows)
    x_vali = np.zeros((rows, 4))
    y_vali = np.zeros(rows)
    y_sin = task.y
    for i in range(3, rows):
        x_train[i - 3] = [y_sin[i - 3], y_sin[i - 2], y_sin[i - 1], y_sin[i]]
        y_train[i - 3] = y_sin[i + 1]
        x_vali[i - 3] = [y_sin[i - 3 + 375], y_sin[i - 2 + 375], y_sin[i - 1 + 375], y_sin[i + 375]]
        y_vali[i - 3] = y_sin[i + 1 + 375]
    np.testing.assert_array_equal(task.train.inputs[:, :, 0], x_train[:247])
    np.testing.assert_array_equal(task.train.targets[:, 0], y_train[:247])
    np.testing.assert_array_equal(task.validation.inputs[:, :, 0], x_vali[:247])
    np.testing.assert_array_equal(task.validation.targets[:, 0], y_vali[:247])
    assert not x_train[247:].any() and not y_train[247:].any()
    np.testing.assert_array_equal(task.train.persistence, task.train.inputs[:, -1, :])


def test_sine_task_argument_errors():
    with pytest.raises(ValueError, match="fewer than the window of 4"):
        sine_task(num_points=12)
    with pytest.raises(TypeError, match="window must be an integer"):
        sine_task(window=2.0)


# text


def _rule_label(phrase):
    words = phrase.split()
    sentiment = [word for word in words if word in POSITIVE_WORDS | NEGATIVE_WORDS]
    assert len(sentiment) == 1, f"{phrase!r} must hold exactly one sentiment word"
    assert words.count("not") <= 1, f"{phrase!r} has more than one 'not'"
    return (sentiment[0] in POSITIVE_WORDS) != ("not" in words)


def test_sentiment_labels_follow_the_rule():
    train, test = sentiment_data()
    for phrase, label in {**train, **test}.items():
        assert label == _rule_label(phrase), phrase
        known_words = POSITIVE_WORDS | NEGATIVE_WORDS | NEUTRAL_WORDS | {"not"}
        assert set(phrase.split()) <= known_words, phrase


def test_sentiment_set_sizes_vocabulary_and_coverage():
    train, test = sentiment_data()
    assert (len(train), len(test)) == (66, 22)
    assert not set(train) & set(test)
    assert _rule_label("not good") is False
    assert _rule_label("not bad") is True
    vocabulary = Vocabulary(train)
    assert len(vocabulary) == 17
    assert all(word in vocabulary for phrase in test for word in phrase.split())
    assert sum(train.values()) not in (0, len(train))
    assert sum(test.values()) not in (0, len(test))


def test_every_sentiment_word_is_trained_plain_and_negated():
    train, _ = sentiment_data()
    for word in POSITIVE_WORDS | NEGATIVE_WORDS:
        uses = [phrase.split() for phrase in train if word in phrase.split()]
        assert any("not" in words for words in uses), word
        assert any("not" not in words for words in uses), word


def test_sentiment_data_returns_fresh_dicts():
    train, _ = sentiment_data()
    train["not good"] = True
    assert sentiment_data()[0]["not good"] is False


def test_vocabulary_index_is_sorted_and_encode_is_one_hot():
    vocabulary = Vocabulary({"b a": True, "c a": False})
    assert vocabulary.words == ("a", "b", "c")
    assert vocabulary.index == {"a": 0, "b": 1, "c": 2}
    encoded = vocabulary.encode("c a  c")
    assert encoded.dtype == np.float64
    np.testing.assert_array_equal(encoded, [[0, 0, 1], [1, 0, 0], [0, 0, 1]])


def test_vocabulary_errors():
    vocabulary = Vocabulary(["i am good"])
    with pytest.raises(KeyError, match="unknown word 'great'"):
        vocabulary.encode("i am great")
    with pytest.raises(ValueError, match="has no words"):
        vocabulary.encode("   ")
    with pytest.raises(TypeError, match="not one string"):
        Vocabulary("i am good")
    with pytest.raises(ValueError, match="no words"):
        Vocabulary({})


# reading real-world CSV files: byte-order marks, CRLF, gaps


def test_load_csv_reads_a_utf8_bom_and_crlf_line_endings(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes(b"\xef\xbb\xbfday,tmax\r\n2020-01-01,10\r\n2020-01-02,11.5\r\n\r\n")
    data = load_csv(path, "day", ["tmax"], "tmax")
    np.testing.assert_array_equal(data.target, [10, 11.5])
    np.testing.assert_array_equal(data.dates, np.array(["2020-01-01", "2020-01-02"], dtype="datetime64[D]"))


GAPPY_CSV = "day,tmax,tmin\n2020-01-01,10,2\n2020-01-02,,3\n2020-01-03,12,NA\n2020-01-04,nan,n/a\n2020-01-05,14,5\n"


def test_a_gap_is_an_error_naming_line_and_column_unless_filled(tmp_path):
    path = _write(tmp_path, GAPPY_CSV)
    with pytest.raises(MissingValueError, match=r"line 3, column 'tmax': the value is missing \(empty\)"):
        load_csv(path, "day", ["tmax", "tmin"], "tmax")
    with pytest.raises(MissingValueError, match=r"line 4, column 'tmin': .*'NA'.*fill_missing='previous'"):
        load_csv(path, "day", ["tmin"], "tmin")
    filled = load_csv(path, "day", ["tmax", "tmin"], "tmax", fill_missing="previous")
    np.testing.assert_array_equal(filled.features, [[10, 2], [10, 3], [12, 3], [12, 3], [14, 5]])
    np.testing.assert_array_equal(filled.target, [10, 10, 12, 12, 14])


def test_forward_fill_cannot_fill_a_gap_in_the_first_row(tmp_path):
    path = _write(tmp_path, "day,tmax\n2020-01-01,\n2020-01-02,3\n")
    with pytest.raises(MissingValueError, match=r"line 2, column 'tmax': .*no earlier row has a value"):
        load_csv(path, "day", ["tmax"], "tmax", fill_missing="previous")
    with pytest.raises(ValueError, match=r"fill_missing must be one of \('error', 'previous'\), got 'mean'"):
        load_csv(path, "day", ["tmax"], "tmax", fill_missing="mean")


def test_data_errors_are_the_librarys_own_and_still_value_errors(tmp_path):
    assert issubclass(DataError, ValueError) and issubclass(MissingValueError, DataError)
    assert issubclass(DataError, TinygradRNNError)
    with pytest.raises(DataError, match=r"nowhere.csv: cannot read the file \(No such file or directory\)"):
        load_csv(tmp_path / "nowhere.csv", "day", ["tmax"], "tmax")
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"day,tmax\n2020-01-01,\xff\xfe\n")
    with pytest.raises(DataError, match=r"binary.csv: is not UTF-8 text"):
        load_csv(binary, "day", ["tmax"], "tmax")
    with pytest.raises(DataError, match="line 3, column 'tmax': 'warm' is not a number"):
        load_csv(_write(tmp_path, "day,tmax\n2020-01-01,1\n2020-01-02,warm\n"), "day", ["tmax"], "tmax")


# text: case, punctuation, saved vocabularies


def test_words_ignore_case_and_punctuation():
    assert words_of("I am NOT happy!") == ["i", "am", "not", "happy"]
    assert words_of("  isn't it... good?, (very)") == ["isnt", "it", "good", "very"]
    assert words_of("?!") == []
    vocabulary = Vocabulary(["i am good"])
    np.testing.assert_array_equal(vocabulary.encode("I am GOOD."), vocabulary.encode("i am good"))


def test_unknown_word_error_is_a_key_error_with_a_plain_message():
    vocabulary = Vocabulary(["i am good"])
    with pytest.raises(UnknownWordError) as caught:
        vocabulary.encode("I am Great!")
    assert isinstance(caught.value, KeyError)
    assert str(caught.value) == "unknown word 'great' in 'I am Great!': not among the vocabulary's 3 words"


def test_vocabulary_from_saved_words_round_trips_and_checks_each_word():
    vocabulary = Vocabulary(["b a", "c"])
    assert Vocabulary.from_words(vocabulary.words).words == ("a", "b", "c")
    for bad in (["Good"], ["two words"], ["ok", 3], ["ok!"]):
        with pytest.raises(DataError, match="is not one lower-case word"):
            Vocabulary.from_words(bad)


# scalers saved as plain values


@pytest.mark.parametrize("kind", [MinMaxScaler, StandardScaler])
def test_scaler_to_dict_round_trips_exactly(kind):
    data = np.array([[1.0, 5.0], [3.0, 5.0], [2.5, 5.0]])  # the second column is constant
    scaler = kind().fit(data)
    rebuilt = scaler_from_dict(scaler.to_dict())
    assert type(rebuilt) is kind
    np.testing.assert_array_equal(rebuilt.transform(data), scaler.transform(data))
    np.testing.assert_array_equal(rebuilt.inverse_transform(data), scaler.inverse_transform(data))
    for name in kind.STATISTICS:
        np.testing.assert_array_equal(getattr(rebuilt, name), getattr(scaler, name))


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"type": "RobustScaler"}, "unknown type 'RobustScaler'"),
        ([1, 2], "unknown type 'list'"),
        ({"type": "MinMaxScaler", "offset_": [0.0], "scale_": [1.0], "min_": [0.0]}, "max_ must be a non-empty list"),
        (
            {"type": "MinMaxScaler", "offset_": [0.0], "scale_": [float("nan")], "min_": [0.0], "max_": [1.0]},
            "scale_ must be a non-empty list of finite numbers",
        ),
        (
            {"type": "StandardScaler", "offset_": [0.0, 1.0], "scale_": [1.0], "mean_": [0.0], "std_": [1.0]},
            "scale_ has 1 entries, offset_ has 2",
        ),
        (
            {"type": "StandardScaler", "offset_": [0.0], "scale_": [0.0], "mean_": [0.0], "std_": [0.0]},
            "scale_ holds a zero",
        ),
    ],
)
def test_scaler_from_a_damaged_dict_names_the_entry(values, message):
    with pytest.raises(DataError, match=message):
        scaler_from_dict(values)


def test_tasks_use_a_given_scaler_instead_of_fitting_one():
    series = np.arange(40.0)
    fitted = temperature_task(seq_len=3, series=series)
    given = MinMaxScaler().fit(np.array([0.0, 100.0]))
    task = temperature_task(seq_len=3, series=series, scaler=given)
    assert task.scaler is given
    np.testing.assert_allclose(task.train.inputs, given.transform(fitted.scaler.inverse_transform(fitted.train.inputs)))


def test_forward_fill_matches_pandas_ffill_on_a_weather_file_with_gaps(tmp_path):
    pandas = pytest.importorskip("pandas", reason="pandas is the oracle for the walk-through's ffill")
    rng = np.random.default_rng(3)
    rows = ["date,tmax,tmin,rain,tmax_tomorrow"]
    for day in range(200):
        values = [
            f"{value:.1f}"
            for value in (rng.normal(60, 10), rng.normal(45, 8), rng.exponential(0.1), rng.normal(60, 10))
        ]
        if day > 0:
            for column in range(4):
                if rng.random() < 0.05:
                    values[column] = str(rng.choice(["", "NA", "NaN"]))
        rows.append(f"{np.datetime64('1970-01-01') + day}," + ",".join(values))
    path = _write(tmp_path, "\n".join(rows) + "\n")
    columns = ["tmax", "tmin", "rain", "tmax_tomorrow"]
    ours = load_csv(path, "date", columns, "tmax_tomorrow", fill_missing="previous")
    frame = pandas.read_csv(path, index_col=0).ffill()
    assert frame.isna().sum().sum() == 0 and (pandas.read_csv(path).isna().sum().sum() > 10)
    np.testing.assert_array_equal(ours.features, frame[columns].to_numpy())
    np.testing.assert_array_equal(ours.target, frame["tmax_tomorrow"].to_numpy())
