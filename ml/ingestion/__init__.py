"""Raw data in: the generated log or the user's files, validated, into the raw schema."""
