"""runs/*/ -> leaderboard/index.html: the page that ranks every model's test results (reads files only)."""
