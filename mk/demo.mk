run: all ## the demo: drive the C generator into each blackhole plugin
	@echo "demo not built yet"
