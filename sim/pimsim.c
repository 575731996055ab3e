// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * pimsim - what would L3 give on this workload and this hardware?
 *
 *	pimsim -s l3 -m GPT-175B -t openr1
 *	pimsim -c mysystem.conf -t mytrace.csv -f json
 *	pimsim --eval build/sim	   the paper's whole evaluation set
 *	pimsim --gpu-calib data/gpu/h200.tsv -t openr1   measured GPU times
 *	pimsim --gpu-calib data/gpu/h200.tsv --calib-report
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include "sim.h"
#include "eval.h"

static void usage(FILE *f)
{
	unsigned int i;

	fprintf(f,
"usage: pimsim [options]\n"
"  -s, --system NAME     attention system preset (default l3)\n"
"  -m, --model NAME      model preset (default GPT-175B)\n"
"  -g, --gpu NAME        GPU preset: A100 (default), H100 or H200\n"
"  -G, --gpu-calib FILE  GPU operator times measured by pim-gpucal in place\n"
"                        of the roofline (data/gpu/); sets -g to its GPU\n"
"  -R, --calib-report    print the roofline against FILE's measurements\n"
"  -t, --trace NAME|FILE trace preset, or a CSV file\n"
"                        (arrival_s,input_tokens,output_tokens)\n"
"  -n, --requests N      requests of a generated trace (default 1000)\n"
"  -S, --seed N          seed of a generated trace (default 1)\n"
"  -p, --policy NAME     l3, fill-first, no-subbatch or gpu-only\n"
"  -c, --config FILE     apply a file of key = value settings\n"
"  -o, --set KEY=VALUE   apply one setting (see docs/simulator.md)\n"
"  -f, --format FMT      table (default), csv or json\n"
"  -T, --timeline FILE   write per-iteration times as CSV\n"
"  -E, --eval DIR        run the full evaluation into DIR (-n applies)\n"
"  -j, --jobs N          parallel runs for --eval (default 1)\n"
"  -h, --help\n"
"Options apply in order, so a later one overrides an earlier one.\n"
"systems:");
	for (i = 0; sim_system_preset_at(i); i++)
		fprintf(f, " %s", sim_system_preset_at(i));
	fprintf(f, "\nmodels:");
	for (i = 0; gpu_model_at(i); i++)
		fprintf(f, " %s", gpu_model_at(i)->name);
	fprintf(f, "\ntraces:");
	for (i = 0; sim_trace_preset_at(i); i++)
		fprintf(f, " %s", sim_trace_preset_at(i));
	fprintf(f, "\n");
}

static int set(struct sim_config *cfg, const char *k, const char *v)
{
	const char *why;

	if (sim_config_apply(cfg, k, v, &why)) {
		fprintf(stderr, "pimsim: %s = %s: %s\n", k, v, why);
		return -EINVAL;
	}
	return 0;
}

static int set_pair(struct sim_config *cfg, char *kv)
{
	char *eq = strchr(kv, '=');

	if (!eq) {
		fprintf(stderr, "pimsim: --set wants KEY=VALUE, got '%s'\n", kv);
		return -EINVAL;
	}
	*eq = 0;
	return set(cfg, kv, eq + 1);
}

static int set_trace(struct sim_config *cfg, const char *v)
{
	size_t n = strlen(v);

	if (n > 4 && !strcmp(v + n - 4, ".csv"))
		return set(cfg, "trace_file", v);
	return set(cfg, "trace", v);
}

static int run_one(struct sim_config *cfg, const char *fmt)
{
	struct sim_workload w;
	struct sim_result r;
	char err[512];
	const char *why;
	int ret;

	if (sim_config_check(cfg, &why)) {
		fprintf(stderr, "pimsim: bad configuration: %s\n", why);
		return -EINVAL;
	}
	ret = sim_workload_load(cfg, &w, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "pimsim: %s\n", err);
		return ret;
	}
	ret = sim_run(cfg, &w, &r);
	sim_workload_free(&w);
	if (ret) {
		fprintf(stderr, "pimsim: run failed: %s\n", strerror(-ret));
		return ret;
	}
	if (!strcmp(fmt, "csv")) {
		sim_print_csv_header(stdout);
		sim_print_csv_row(stdout, &r);
	} else if (!strcmp(fmt, "json")) {
		printf("[\n");
		sim_print_json(stdout, &r, true);
		printf("]\n");
	} else {
		if (cfg->gpu_calib)
			sim_calib_line(stdout, cfg->gpu_calib, &cfg->sys.gpu,
				       &cfg->model);
		sim_print_table_header(stdout);
		sim_print_table_row(stdout, &r);
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "system", required_argument, NULL, 's' },
		{ "model", required_argument, NULL, 'm' },
		{ "gpu", required_argument, NULL, 'g' },
		{ "gpu-calib", required_argument, NULL, 'G' },
		{ "calib-report", no_argument, NULL, 'R' },
		{ "trace", required_argument, NULL, 't' },
		{ "requests", required_argument, NULL, 'n' },
		{ "seed", required_argument, NULL, 'S' },
		{ "policy", required_argument, NULL, 'p' },
		{ "config", required_argument, NULL, 'c' },
		{ "set", required_argument, NULL, 'o' },
		{ "format", required_argument, NULL, 'f' },
		{ "timeline", required_argument, NULL, 'T' },
		{ "eval", required_argument, NULL, 'E' },
		{ "jobs", required_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct sim_config cfg;
	const char *fmt = "table", *eval_dir = NULL, *tl_path = NULL;
	struct gpu_calib *calib = NULL;
	bool calib_report = false;
	unsigned int jobs = 1;
	char err[512];
	int c, ret = 0;

	sim_config_default(&cfg);
	while (!ret && (c = getopt_long(argc, argv, "s:m:g:G:Rt:n:S:p:c:o:f:T:E:j:h",
					opts, NULL)) != -1) {
		switch (c) {
		case 's':
			ret = set(&cfg, "system", optarg);
			break;
		case 'm':
			ret = set(&cfg, "model", optarg);
			break;
		case 'g':
			ret = set(&cfg, "gpu", optarg);
			break;
		case 'G':
			gpu_calib_free(calib);
			calib = NULL;
			ret = gpu_calib_load(optarg, &calib, err, sizeof(err));
			if (ret)
				fprintf(stderr, "pimsim: %s\n", err);
			else
				ret = set(&cfg, "gpu", calib->preset);
			cfg.gpu_calib = calib;
			break;
		case 'R':
			calib_report = true;
			break;
		case 't':
			ret = set_trace(&cfg, optarg);
			break;
		case 'n':
			ret = set(&cfg, "requests", optarg);
			break;
		case 'S':
			ret = set(&cfg, "seed", optarg);
			break;
		case 'p':
			ret = set(&cfg, "policy", optarg);
			break;
		case 'c':
			ret = sim_config_load(optarg, &cfg, err, sizeof(err));
			if (ret)
				fprintf(stderr, "pimsim: %s\n", err);
			break;
		case 'o':
			ret = set_pair(&cfg, optarg);
			break;
		case 'f':
			fmt = optarg;
			if (strcmp(fmt, "table") && strcmp(fmt, "csv") &&
			    strcmp(fmt, "json")) {
				fprintf(stderr, "pimsim: unknown format '%s'\n",
					fmt);
				ret = -EINVAL;
			}
			break;
		case 'T':
			tl_path = optarg;
			break;
		case 'E':
			eval_dir = optarg;
			break;
		case 'j':
			jobs = (unsigned int)atoi(optarg);
			if (jobs < 1 || jobs > 64) {
				fprintf(stderr, "pimsim: --jobs wants 1..64\n");
				ret = -EINVAL;
			}
			break;
		case 'h':
			usage(stdout);
			gpu_calib_free(calib);
			return 0;
		default:
			usage(stderr);
			gpu_calib_free(calib);
			return 2;
		}
	}
	if (!ret && optind < argc) {
		fprintf(stderr, "pimsim: unexpected argument '%s'\n",
			argv[optind]);
		ret = -EINVAL;
	}
	if (!ret && calib_report && !calib) {
		fprintf(stderr, "pimsim: --calib-report needs --gpu-calib FILE\n");
		ret = -EINVAL;
	}
	if (ret) {
		gpu_calib_free(calib);
		return 2;
	}
	if (calib_report) {
		sim_calib_report(stdout, calib, &cfg.sys.gpu);
		gpu_calib_free(calib);
		return 0;
	}
	if (eval_dir) {
		ret = sim_eval(eval_dir, jobs, cfg.requests, calib);
		gpu_calib_free(calib);
		return ret ? 1 : 0;
	}
	if (tl_path) {
		cfg.timeline = fopen(tl_path, "w");
		if (!cfg.timeline) {
			fprintf(stderr, "pimsim: %s: %s\n", tl_path,
				strerror(errno));
			gpu_calib_free(calib);
			return 1;
		}
	}
	ret = run_one(&cfg, fmt);
	if (cfg.timeline)
		fclose(cfg.timeline);
	gpu_calib_free(calib);
	return ret ? 1 : 0;
}
