"""The scenarios in force, indexed by the events that start them or that they listen to."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from pathlib import Path

from journeys.authoring.scenario_file import limit_problems
from journeys.authoring.validate import validate_paths
from journeys.files.problems import Problem, ScenarioError
from journeys.model.scenario import Scenario


class ScenarioRegistry:
    def __init__(self, scenarios: list[Scenario]) -> None:
        """Raises ScenarioError when a scenario breaks the bounds of ``journeys.model.limits``
        (read from a file, it was already refused; built in code, it is refused here)."""
        problems = [problem for s in scenarios for problem in limit_problems(s)]
        if problems:
            raise ScenarioError(problems)
        self.scenarios = {s.id: s for s in scenarios}
        self._triggers: dict[str, list[Scenario]] = defaultdict(list)
        self._listeners: dict[str, list[Scenario]] = defaultdict(list)
        for scenario in scenarios:
            self._triggers[scenario.trigger.event].append(scenario)
            for name in scenario.listens_to() - {scenario.trigger.event}:
                self._listeners[name].append(scenario)

    @classmethod
    def load(
        cls, folder: Path, templates_dir: Path, counters: Collection[str] | None = None
    ) -> ScenarioRegistry:
        """Loads and fully validates every scenario file (templates included); with
        ``counters`` (``loyalty.yaml``'s names), a counter read that is not one is a problem.

        Raises ScenarioError listing every problem in every file: a set with any broken
        scenario is refused whole, so a typo never routes events to half a journey.
        """
        if not folder.is_dir():
            raise ScenarioError([Problem(str(folder), 0, "the scenario folder does not exist")])
        scenarios, problems = validate_paths([folder], templates_dir, counters)
        if problems:
            raise ScenarioError(problems)
        return cls(scenarios)

    def get(self, scenario_id: str) -> Scenario:
        try:
            return self.scenarios[scenario_id]
        except KeyError:
            known = ", ".join(sorted(self.scenarios)) or "none"
            raise KeyError(f"no scenario '{scenario_id}' (known: {known})") from None

    def triggered_by(self, event_name: str) -> list[Scenario]:
        return list(self._triggers.get(event_name, ()))

    def listening_to(self, event_name: str) -> list[Scenario]:
        """Scenarios whose running journeys want this event but that it does not start."""
        return list(self._listeners.get(event_name, ()))
