"""Operations: ``doctor`` diagnoses the connectivity of every endpoint the settings configure."""
