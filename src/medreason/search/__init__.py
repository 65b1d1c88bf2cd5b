"""Search: verifier-guided complex reasoning trajectories and their composition into SFT data."""
