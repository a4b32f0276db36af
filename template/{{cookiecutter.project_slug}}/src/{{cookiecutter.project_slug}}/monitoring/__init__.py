"""Monitoring: input and prediction drift (Evidently), the champion's live quality and age,
training/serving skew on logged traffic, and the alerts. Entry points (`run_monitoring`,
`monitor_traffic`) write the summary and alert; the checks only compute."""
