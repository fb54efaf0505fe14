"""Marketing: segments, campaign texts, previews and reports, care rules, festivals."""
