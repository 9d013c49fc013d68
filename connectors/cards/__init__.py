"""Social-security card readers: electronic card, reader bridge, simulated reader."""
