//! Tool-call argument validation against a tool input schema. (Being built.)
