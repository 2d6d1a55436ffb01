"""The 43 GTSRB classes (ids 0..42) and the ones an attacker would pick."""

GTSRB_CLASS_NAMES: tuple[str, ...] = (
    "20 km/h", "30 km/h", "50 km/h", "60 km/h", "70 km/h", "80 km/h", "end of 80 km/h",
    "100 km/h", "120 km/h", "no passing", "no passing (trucks)", "right of way at next crossing",
    "priority road", "yield", "stop", "no vehicles", "no trucks", "no entry", "general caution",
    "dangerous curve left", "dangerous curve right", "double curve", "bumpy road",
    "slippery road", "road narrows right", "road works", "traffic signals", "pedestrians",
    "children crossing", "bicycles crossing", "beware of ice/snow", "wild animals crossing",
    "end of all limits", "turn right ahead", "turn left ahead", "ahead only",
    "ahead or right", "ahead or left", "keep right", "keep left", "roundabout",
    "end of no passing", "end of no passing (trucks)",
)
N_CLASSES = len(GTSRB_CLASS_NAMES)

#: Speed limits and stop: the classes of thesis Table 3.1.
ATTACK_CANDIDATES: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 7, 8, 14)


def class_name(label: int) -> str:
    """Human-readable name of a GTSRB class id, e.g. ``class_name(2) == '50 km/h'``."""
    if not 0 <= int(label) < N_CLASSES:
        raise ValueError(f"class id {label} is outside 0..{N_CLASSES - 1} (GTSRB has {N_CLASSES} classes)")
    return GTSRB_CLASS_NAMES[int(label)]
