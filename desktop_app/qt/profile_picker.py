"""What the profile bar means: the active profile, its model list, where a turn goes.

``ProfilePicker`` fills the ``ProfileBar`` from the profiles, remembers the
last profile used, lists the server's models in the background (bounded;
the typed model stays usable when there is no list), makes a picked model
stick to its profile, and builds the ``TurnTarget`` the chat controller asks
for at each send.

It never blocks: model lists and warm-ups run in the window's task registry.
"""

from __future__ import annotations

import asyncio
import dataclasses

from PySide6.QtCore import QObject, Signal

from desktop_app.core.errors import StreamdeskError
from desktop_app.core.profiles import Profile
from desktop_app.core.providers.registry import get_provider
from desktop_app.qt.errors import describe
from desktop_app.qt.profile_bar import ProfileBar
from desktop_app.qt.services import AppServices
from desktop_app.qt.tasks import TaskRegistry
from desktop_app.qt.turns import TurnTarget

MODEL_LIST_TIMEOUT = 10.0


class ProfilePicker(QObject):
    """Presents the profiles in the bar and answers "where does the next turn go?"."""

    modelsListed = Signal(str)  # profile name, after each model-list attempt
    profileChanged = Signal(str)  # the active profile's name
    problemReported = Signal(str, str)  # (sentence, hint)

    def __init__(
        self,
        bar: ProfileBar,
        services: AppServices,
        tasks: TaskRegistry,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.bar = bar
        self.services = services
        self.tasks = tasks
        self._model_task: asyncio.Task[None] | None = None
        bar.profileChosen.connect(self.choose)
        bar.modelChosen.connect(self._model_chosen)
        bar.refreshRequested.connect(lambda: self.list_models(self.current_profile()))

    def current_profile(self) -> Profile:
        return self.services.profile(self.bar.current_profile())

    def current_target(self) -> TurnTarget:
        """Where the next message goes (asked at each send)."""
        profile = self.current_profile()
        services = self.services
        return TurnTarget(
            profile=profile.name,
            provider=get_provider(profile.provider),
            model=self.bar.current_model() or profile.model,
            connect=lambda: services.connect(profile),
            system=profile.system_prompt or None,
            temperature=profile.temperature,
            max_tokens=profile.max_tokens,
        )

    def fill(self, current: str) -> None:
        names = [p.name for p in self.services.profiles]
        self.bar.set_profiles(names, current)
        self.bar.set_model(self.services.profile(current).model)
        self.profileChanged.emit(self.current_profile().name)

    def reload(self, current: str) -> None:
        """The profiles were edited: refill the bar and list the models again."""
        self.fill(current)
        self.list_models(self.current_profile())

    def choose(self, name: str) -> None:
        profile = self.services.profile(name)
        self.bar.set_model(profile.model)
        self.services.save_settings(
            dataclasses.replace(self.services.settings, last_profile=profile.name)
        )
        self.profileChanged.emit(profile.name)
        self.list_models(profile)
        self.tasks.spawn(self.services.warm_up(profile), name="warm up")

    def _model_chosen(self, model: str) -> None:
        profile = self.current_profile()
        if model == profile.model:
            return
        # The picked model sticks to the profile (saved in profiles.toml).
        updated = [
            dataclasses.replace(p, model=model) if p.name == profile.name else p
            for p in self.services.profiles
        ]
        try:
            self.services.save_profiles(updated)
        except (StreamdeskError, OSError) as exc:
            self.problemReported.emit(*describe(exc))

    def list_models(self, profile: Profile) -> None:
        """Ask the server for its models in the background; the typed model stays usable."""
        if self._model_task is not None and not self._model_task.done():
            self._model_task.cancel()
        self.bar.listing_started()
        self._model_task = self.tasks.spawn(self._list_models(profile), name="list models")

    async def _list_models(self, profile: Profile) -> None:
        models: list[str] = []
        note = ""
        try:
            provider = get_provider(profile.provider)
            async with asyncio.timeout(MODEL_LIST_TIMEOUT):
                client, endpoint = await self.services.connect(profile)
                if provider.models_url(endpoint) is None:
                    note = "This server format has no model list: type the model name."
                else:
                    models = await client.list_models(provider, endpoint)
                    if not models:
                        note = "The server listed no models: type the model name."
        except TimeoutError:
            note = "The server did not list its models in time: type the model name."
        except StreamdeskError as exc:
            sentence, _hint = describe(exc)
            note = f"Models not listed: {sentence}"
        if self.bar.current_profile() == profile.name:
            current = self.bar.current_model() or profile.model
            self.bar.set_models(models, current, note)
        self.modelsListed.emit(profile.name)
