"""Command-line interface (`msinet COMMAND`); see main.py."""
