"""Deterministic local servers for the five source feeds (spec/feeds.md).

    from corridor.simulator import SimConfig, start_simulator, connection_uris
    with start_simulator(SimConfig(scale=0.05)) as sim:
        os.environ.update(connection_uris(sim.base_url))

``World`` gives the same payloads without HTTP, for tests.
"""

from corridor.simulator.server import (
    SIM_CREDENTIALS,
    SimulatorHandle,
    connection_uris,
    start_simulator,
)
from corridor.simulator.world import RAIL_NAMESPACE, RU_CSV_HEADER, SimConfig, World

__all__ = [
    "RAIL_NAMESPACE",
    "RU_CSV_HEADER",
    "SIM_CREDENTIALS",
    "SimConfig",
    "SimulatorHandle",
    "World",
    "connection_uris",
    "start_simulator",
]
