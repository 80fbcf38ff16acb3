# The ranges a protocol's [alarms] table may set record.alarms' thresholds
# to, checked at VALIDATE. A module of its own, imported only for a
# protocol that has the table: what the firmware keeps loaded stays small.
RANGES = {
    "ssep_amp_drop_pct": (10.0, 100.0),
    "ssep_lat_rise_pct": (1.0, 50.0),
    "mep_drop_pct": (10.0, 100.0),
    "mep_loss_uv": (1.0, 1000.0),
    "temg_limit_ma": (0.1, 30.0),
    "mep_threshold_rise_v": (10.0, 500.0),
}


def check_thresholds(table):
    """A protocol's [alarms] table, at VALIDATE: a table of known names,
    each a number inside its range (a refusal names the limit, the value
    and the range)."""
    from stimfw.core import errors as err

    if table is None:
        return
    if not isinstance(table, dict):
        raise err.Refused(err.ERR_BAD_PAYLOAD, "alarms must be a table", {"key": "alarms"})
    for k, v in table.items():
        if k not in RANGES:
            raise err.Refused(err.ERR_BAD_PAYLOAD, "unknown alarm threshold %r" % k,
                              {"key": "alarms", "value": k})
        lo, hi = RANGES[k]
        err.need(k, v, lo, hi)
