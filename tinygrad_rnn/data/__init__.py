"""Data for recurrent networks in pure NumPy: windows, scalers, time-ordered splits, loaders,
the source documents' tasks, and one-hot text."""

from .datasets import (
    DailySeries,
    SeattleWeather,
    SineTask,
    TemperatureTask,
    WeatherTask,
    Windows,
    load_csv,
    seattle_weather,
    sine_task,
    temperature_task,
    weather_task,
)
from .loader import DataLoader, TensorDataset, default_collate
from .scalers import MinMaxScaler, StandardScaler
from .splits import chronological_split, fewest_rows
from .text import Vocabulary, sentiment_data
from .windows import lagged_features, lookback_pairs_dropping_last, sliding_windows

__all__ = [
    "DataLoader",
    "TensorDataset",
    "default_collate",
    "DailySeries",
    "MinMaxScaler",
    "SeattleWeather",
    "SineTask",
    "StandardScaler",
    "TemperatureTask",
    "Vocabulary",
    "WeatherTask",
    "Windows",
    "chronological_split",
    "fewest_rows",
    "lagged_features",
    "load_csv",
    "lookback_pairs_dropping_last",
    "seattle_weather",
    "sentiment_data",
    "sine_task",
    "sliding_windows",
    "temperature_task",
    "weather_task",
]
