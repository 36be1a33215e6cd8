"""The scenarios in force, indexed by the events that start them or that they listen to."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from journeys.problems import Problem, ScenarioError
from journeys.scenario import Scenario
from journeys.scenario_file import load_scenario


class ScenarioRegistry:
    def __init__(self, scenarios: list[Scenario]) -> None:
        self.scenarios = {s.id: s for s in scenarios}
        self._triggers: dict[str, list[Scenario]] = defaultdict(list)
        self._listeners: dict[str, list[Scenario]] = defaultdict(list)
        for scenario in scenarios:
            self._triggers[scenario.trigger.event].append(scenario)
            for name in scenario.listens_to() - {scenario.trigger.event}:
                self._listeners[name].append(scenario)

    @classmethod
    def load(cls, folder: Path) -> ScenarioRegistry:
        """Loads every scenario file; raises ScenarioError listing all problems in all files."""
        scenarios: list[Scenario] = []
        problems: list[Problem] = []
        seen: dict[str, str] = {}
        for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]):
            try:
                scenario = load_scenario(path)
            except ScenarioError as err:
                problems += err.problems
                continue
            if scenario.id in seen:
                problems.append(
                    Problem(
                        str(path),
                        1,
                        f"scenario id '{scenario.id}' is also used by {seen[scenario.id]}",
                    )
                )
                continue
            seen[scenario.id] = str(path)
            scenarios.append(scenario)
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
