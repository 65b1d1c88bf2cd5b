"""Stage 2: reinforcement learning from models/sft on verifier rewards.

    reward.py   the one reward every algorithm uses (format gate, then the reward verifier)
    ppo.py      PPO written here on torch + accelerate, with TRL 0.13's semantics (METHOD.md section 5)
    trl_algos.py GRPO and RLOO through TRL's maintained trainers, on the same reward
"""
