# SPDX-License-Identifier: GPL-2.0
# pimsim host tests and the full-scale run benchmark.

SIM_TESTS	:= $(BUILD)/tests/sim/test_sim $(BUILD)/tests/sim/test_calib
SIM_BENCH	:= $(BUILD)/tests/sim/bench_sim

$(BUILD)/tests/sim/%.o: CPPFLAGS += -Isim -Isched -Igpu

$(SIM_TESTS) $(SIM_BENCH): $(BUILD)/tests/sim/%: $(BUILD)/tests/sim/%.o \
		$(SIM_LIBS)
	$(CC) $(LDFLAGS) -o $@ $^ -lm

# test_calib runs pimsim's calibration options too.
$(BUILD)/tests/sim/test_calib: | $(PIMSIM)

HOST_TESTS	+= $(SIM_TESTS)
BENCHES		+= $(SIM_BENCH)
