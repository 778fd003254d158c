"""The source documents' tasks, each a module with a `Config` dataclass of the document's
defaults and `run(config, progress=False) -> TaskResult`."""

from . import sentiment, sine, temperature, weather
from .common import TaskResult

TASKS = {"sentiment": sentiment, "sine": sine, "temperature": temperature, "weather": weather}

__all__ = ["TASKS", "TaskResult", "sentiment", "sine", "temperature", "weather"]
