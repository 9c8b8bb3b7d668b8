"""Asset checks grouped by concern. Each function tests one property and returns an
AssetCheckResult whose metadata shows why, without opening logs."""
