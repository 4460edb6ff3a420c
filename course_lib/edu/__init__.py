"""Education case study: knowledge tracing, personalization, simulated students, tutor."""
