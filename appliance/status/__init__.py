"""Status sinks and controls: the local control socket and its command parser, the button and LED; MQTT and systemd plug in beside them."""
