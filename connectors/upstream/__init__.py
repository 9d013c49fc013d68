"""The upstream (provincial/national) system: dialect clients and the simulator."""
