"""deepfake-zoo: command-line entry point; the work lives in datasets/, zoo/, search/, leaderboard/, predict/."""
