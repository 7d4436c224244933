"""Why a feature helps or not: feature diagnostics and the cold-start protocol (issue 12)."""
