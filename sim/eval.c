// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The full evaluation: the main comparison (every system x model x trace,
 * paper VII-B), an H100 variant, the L3 ablations, the PIM capacity and
 * bandwidth sweeps and one pipeline timeline. Runs are independent, so
 * they go to up to `jobs` forked workers; results come back through
 * shared memory and are written in a fixed order.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "sim.h"
#include "eval.h"
#include "pim_dm.h"

enum group { G_MAIN, G_H100, G_ABLATION, G_CAP, G_BW, G_TIMELINE, G_CALIB };

static const char *const group_file[] = {
	[G_MAIN] = "main", [G_H100] = "h100", [G_ABLATION] = "ablation",
	[G_CAP] = "scaling", [G_BW] = "scaling", [G_TIMELINE] = "timeline",
	[G_CALIB] = "calib",
};

struct job {
	enum group g;
	double factor;
	struct sim_config cfg;
};

struct outcome {
	int ret;
	struct sim_result res;
};

struct plan {
	struct job *job;
	unsigned int nr, cap;
	const char *dir;
	uint32_t requests;
	const struct gpu_calib *calib;	/* G_CALIB runs when set */
};

static struct job *add(struct plan *p, enum group g, const char *sys,
		       const char *model, const char *trace)
{
	struct job *j;

	if (p->nr == p->cap) {
		p->cap = p->cap ? 2 * p->cap : 128;
		j = realloc(p->job, p->cap * sizeof(*j));
		if (!j)
			exit(1);
		p->job = j;
	}
	j = &p->job[p->nr++];
	memset(j, 0, sizeof(*j));
	j->g = g;
	j->factor = 1;
	sim_config_default(&j->cfg);
	sim_system_preset(sys, &j->cfg.sys);
	sim_model_preset(model, &j->cfg);
	snprintf(j->cfg.trace, sizeof(j->cfg.trace), "%s", trace);
	j->cfg.requests = p->requests;
	return j;
}

static void name(struct job *j, const char *n)
{
	snprintf(j->cfg.sys.name, sizeof(j->cfg.sys.name), "%s", n);
}

static void build(struct plan *p)
{
	static const char *const abl_models[] = { "GPT-175B", "QWEN-72B" };
	static const double factors[] = { 1, 2, 4, 8 };
	const char *sys, *tr;
	unsigned int s, m, t, i;
	struct job *j;

	for (t = 0; (tr = sim_trace_preset_at(t)); t++)
		for (m = 0; gpu_model_at(m); m++)
			for (s = 0; (sys = sim_system_preset_at(s)); s++)
				add(p, G_MAIN, sys, gpu_model_at(m)->name, tr);
	for (t = 0; (tr = sim_trace_preset_at(t)); t++) {
		for (s = 0; s < 2; s++) {
			j = add(p, G_H100, s ? "l3" : "gpu-only", "GPT-175B", tr);
			j->cfg.sys.gpu = *gpu_spec_find("H100");
			name(j, s ? "l3-h100" : "gpu-only-h100");
		}
	}
	for (m = 0; m < 2; m++) {
		for (i = 0; i < 6; i++) {
			j = add(p, G_ABLATION, "l3", abl_models[m], "openr1");
			switch (i) {
			case 1:
				j->cfg.sys.features &= ~PIM_TF_INFLIGHT_RELAYOUT;
				name(j, "l3-host-relayout");
				break;
			case 2:
				j->cfg.sys.features &= ~PIM_TF_BUBBLE_FREE;
				name(j, "l3-no-bubble-free");
				break;
			case 3:
				j->cfg.sys.features &= ~PIM_TF_RANKSET_OVERLAP;
				name(j, "l3-no-rankset-ovl");
				break;
			case 4:
				j->cfg.sys.policy = SCHED_FILL_FIRST;
				name(j, "l3-fill-first");
				break;
			case 5:
				j->cfg.sys.policy = SCHED_NO_SUBBATCH;
				name(j, "l3-no-subbatch");
				break;
			}
		}
	}
	for (i = 0; i < 4; i++) {
		j = add(p, G_CAP, "l3", "GPT-175B", "openr1");
		j->factor = j->cfg.sys.cap_scale = factors[i];
		j = add(p, G_BW, "l3", "GPT-175B", "openr1");
		j->factor = j->cfg.sys.bw_scale = factors[i];
	}
	add(p, G_TIMELINE, "l3", "GPT-175B", "openr1");
	for (t = 0; p->calib && (tr = sim_trace_preset_at(t)); t++) {
		for (i = 0; i < 4; i++) {
			char n[32];

			sys = i & 1 ? "l3" : "gpu-only";
			j = add(p, G_CALIB, sys, "GPT-175B", tr);
			j->cfg.sys.gpu = *gpu_spec_find(p->calib->preset);
			j->cfg.gpu_calib = i & 2 ? p->calib : NULL;
			snprintf(n, sizeof(n), "%s-%s%s", sys,
				 j->cfg.sys.gpu.name, i & 2 ? "-meas" : "");
			name(j, n);
		}
	}
}

/* L3 over GPU-only on the calibration's GPU, roofline and measured. */
static void print_calib(const struct plan *p, const struct outcome *out)
{
	double tp[4];
	unsigned int i, k = 0;

	printf("\nL3 / GPU-only throughput, GPT-175B on %s: roofline, measured GPU times (%s)\n",
	       p->calib->preset, p->calib->path);
	for (i = 0; i < p->nr; i++) {
		if (p->job[i].g != G_CALIB)
			continue;
		tp[k++] = out[i].res.throughput;
		if (k < 4)
			continue;
		k = 0;
		printf("%-14s %6.2fx %6.2fx   (GPU-only %.1f -> %.1f tok/s, L3 %.1f -> %.1f tok/s)\n",
		       out[i].res.trace, tp[0] > 0 ? tp[1] / tp[0] : 0,
		       tp[2] > 0 ? tp[3] / tp[2] : 0, tp[0], tp[2], tp[1],
		       tp[3]);
	}
}

static int run_job(const struct plan *p, struct job *j, struct outcome *o)
{
	struct sim_workload w;
	char err[512], path[512];

	j->cfg.model.name = j->cfg.model_name;	/* the job array moved */
	o->ret = sim_workload_load(&j->cfg, &w, err, sizeof(err));
	if (o->ret)
		return o->ret;
	if (j->g == G_TIMELINE) {
		snprintf(path, sizeof(path), "%s/timeline.csv", p->dir);
		j->cfg.timeline = fopen(path, "w");
		if (!j->cfg.timeline) {
			sim_workload_free(&w);
			return o->ret = -errno;
		}
	}
	o->ret = sim_run(&j->cfg, &w, &o->res);
	if (j->cfg.timeline)
		fclose(j->cfg.timeline);
	sim_workload_free(&w);
	return o->ret;
}

/* Run every job, at most `jobs` at a time, in forked workers. */
static int run_all(struct plan *p, struct outcome *out, unsigned int jobs)
{
	unsigned int next = 0, running = 0, done = 0, i;
	pid_t *pid = calloc(p->nr, sizeof(*pid));
	int status, failed = 0;

	if (!pid)
		return -ENOMEM;
	while (done < p->nr) {
		while (running < jobs && next < p->nr) {
			pid[next] = fork();
			if (pid[next] < 0) {
				free(pid);
				return -errno;
			}
			if (!pid[next])
				_exit(run_job(p, &p->job[next], &out[next]) ? 1 : 0);
			next++;
			running++;
		}
		pid_t w = wait(&status);

		if (w < 0)
			break;
		for (i = 0; i < next; i++) {
			if (pid[i] != w)
				continue;
			running--;
			done++;
			if (!WIFEXITED(status) || out[i].ret) {
				fprintf(stderr, "pimsim: %s %s %s failed: %s\n",
					p->job[i].cfg.sys.name,
					p->job[i].cfg.model_name,
					p->job[i].cfg.trace,
					out[i].ret ? strerror(-out[i].ret) :
					"worker died");
				failed = -EIO;
			} else {
				sim_print_table_row(stdout, &out[i].res);
				fflush(stdout);
			}
		}
	}
	free(pid);
	return failed;
}

static FILE *open_out(const char *dir, const char *file)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	f = fopen(path, "w");
	if (!f)
		fprintf(stderr, "pimsim: %s: %s\n", path, strerror(errno));
	return f;
}

static int write_csv(const struct plan *p, const struct outcome *out)
{
	static const enum group gs[] = { G_MAIN, G_H100, G_ABLATION, G_CALIB };
	unsigned int k, i;
	bool first;
	FILE *f, *js;

	for (k = 0; k < (p->calib ? 4 : 3); k++) {
		char name_csv[32], name_json[32];

		snprintf(name_csv, sizeof(name_csv), "%s.csv", group_file[gs[k]]);
		snprintf(name_json, sizeof(name_json), "%s.json",
			 group_file[gs[k]]);
		f = open_out(p->dir, name_csv);
		js = open_out(p->dir, name_json);
		if (!f || !js)
			return -EIO;
		sim_print_csv_header(f);
		fprintf(js, "[\n");
		for (i = 0, first = true; i < p->nr; i++) {
			if (p->job[i].g != gs[k])
				continue;
			sim_print_csv_row(f, &out[i].res);
			if (!first)
				fprintf(js, ",\n");
			sim_print_json(js, &out[i].res, true);
			first = false;
		}
		fprintf(js, "]\n");
		fclose(f);
		fclose(js);
	}
	f = open_out(p->dir, "scaling.csv");
	if (!f)
		return -EIO;
	fprintf(f, "axis,factor,throughput_tok_s,tbt_mean_s,batch_avg,kv_capacity_bytes\n");
	for (i = 0; i < p->nr; i++)
		if (p->job[i].g == G_CAP || p->job[i].g == G_BW)
			fprintf(f, "%s,%.0f,%.3f,%.6e,%.3f,%.0f\n",
				p->job[i].g == G_CAP ? "capacity" : "bandwidth",
				p->job[i].factor, out[i].res.throughput,
				out[i].res.tbt_mean, out[i].res.batch_avg,
				out[i].res.kv_capacity);
	fclose(f);
	return 0;
}

/* main.dat: per trace a block of model rows, throughput / GPU-only. */
static int write_main_dat(const struct plan *p, const struct outcome *out)
{
	unsigned int i, k, t, m;
	const char *tr;
	FILE *f = open_out(p->dir, "main.dat");

	if (!f)
		return -EIO;
	for (t = 0; (tr = sim_trace_preset_at(t)); t++) {
		fprintf(f, "# %s\nmodel", tr);
		for (k = 0; sim_system_preset_at(k); k++)
			fprintf(f, " %s", sim_system_preset_at(k));
		fprintf(f, "\n");
		for (m = 0; gpu_model_at(m); m++) {
			double base = 0;

			fprintf(f, "%s", gpu_model_at(m)->name);
			for (i = 0; i < p->nr; i++) {
				const struct sim_result *r = &out[i].res;

				if (p->job[i].g != G_MAIN ||
				    strcmp(r->trace, tr) ||
				    strcmp(r->model, gpu_model_at(m)->name))
					continue;
				if (!base)	/* gpu-only comes first */
					base = r->throughput;
				fprintf(f, " %.4f", base > 0 ?
					r->throughput / base : 0);
			}
			fprintf(f, "\n");
		}
		fprintf(f, "\n\n");
	}
	fclose(f);
	return 0;
}

/*
 * gantt.dat: four iterations from the middle of the L3 run. Within an
 * iteration the GPU runs sub-batch 1 while PIM runs sub-batch 0, then
 * GPU sub-batch 0 while PIM sub-batch 1 (all layers taken together).
 */
static int write_gantt(const struct plan *p)
{
	char path[512], line[512];
	unsigned long nlines = 0, want, n = 0;
	FILE *in, *f;

	snprintf(path, sizeof(path), "%s/timeline.csv", p->dir);
	in = fopen(path, "r");
	if (!in)
		return -errno;
	while (fgets(line, sizeof(line), in))
		nlines++;
	rewind(in);
	want = nlines / 2;
	f = open_out(p->dir, "gantt.dat");
	if (!f) {
		fclose(in);
		return -EIO;
	}
	fprintf(f, "# row start_ms end_ms sub\n");
	while (fgets(line, sizeof(line), in)) {
		unsigned int rep;
		unsigned long long it;
		double s, g0, g1, p0, p1, a;

		if (n++ < want || n > want + 4)
			continue;
		if (sscanf(line, "%u,%llu,%lf,%lf,%lf,%lf,%lf", &rep, &it, &s,
			   &g0, &g1, &p0, &p1) != 7)
			continue;
		s *= 1e3;
		g0 /= 1e3, g1 /= 1e3, p0 /= 1e3, p1 /= 1e3;
		a = g1 > p0 ? g1 : p0;
		fprintf(f, "1 %.3f %.3f 1\n0 %.3f %.3f 0\n", s, s + g1, s, s + p0);
		fprintf(f, "1 %.3f %.3f 0\n0 %.3f %.3f 1\n", s + a, s + a + g0,
			s + a, s + a + p1);
	}
	fclose(in);
	fclose(f);
	return 0;
}

static const char report_gp[] =
"# gnuplot script written by pimsim --eval; run it inside this directory.\n"
"set terminal pngcairo size 1400,900 font ',10'\n"
"set datafile separator whitespace\n"
"set output 'main.png'\n"
"set multiplot layout 2,2 title 'Throughput relative to GPU-only (8 x A100)'\n"
"set style data histograms\n"
"set style histogram clustered gap 1\n"
"set style fill solid 0.8 border -1\n"
"set logscale y\n"
"set yrange [0.1:*]\n"
"set key top left font ',8'\n"
"set grid ytics\n"
"do for [t=0:3] {\n"
"  set title word('openr1 dolphin openthoughts dolphin-short', t + 1)\n"
"  plot for [c=2:7] 'main.dat' index t using c:xtic(1) title columnheader(c)\n"
"}\n"
"unset multiplot\n"
"unset logscale y\n"
"set yrange [0:*]\n"
"set output 'scaling.png'\n"
"set terminal pngcairo size 900,600\n"
"set datafile separator ','\n"
"set title 'L3, GPT-175B, OpenR1: PIM capacity and bandwidth scaling'\n"
"set xlabel 'scale factor'\n"
"set ylabel 'throughput (tokens/s)'\n"
"set style data linespoints\n"
"set key top left\n"
"set logscale x 2\n"
"plot 'scaling.csv' using ($2):(strcol(1) eq 'capacity' ? $3 : NaN) title 'capacity' lw 2, \\\n"
"     'scaling.csv' using ($2):(strcol(1) eq 'bandwidth' ? $3 : NaN) title 'bandwidth' lw 2\n"
"unset logscale x\n"
"set datafile separator whitespace\n"
"set output 'timeline.png'\n"
"set terminal pngcairo size 1200,400\n"
"set title 'L3 pipeline, GPT-175B, OpenR1: four iterations mid-run (all layers together)'\n"
"set xlabel 'time (ms)'\n"
"unset ylabel\n"
"set ytics ('PIM' 0, 'GPU' 1)\n"
"set yrange [-0.6:1.6]\n"
"set key outside right\n"
"plot 'gantt.dat' using (($2+$3)/2):1:(($3-$2)/2):(0.3):($4) with boxxyerror fillstyle solid 0.7 lc variable notitle, \\\n"
"     NaN with boxes fillstyle solid 0.7 lc 0 title 'sub-batch 0', \\\n"
"     NaN with boxes fillstyle solid 0.7 lc 1 title 'sub-batch 1'\n";

int sim_eval(const char *dir, unsigned int jobs, uint32_t requests,
	     const struct gpu_calib *calib)
{
	struct plan p = { .dir = dir, .requests = requests, .calib = calib };
	struct outcome *out;
	FILE *gp;
	int ret;

	if (calib && !gpu_spec_find(calib->preset)) {
		fprintf(stderr, "pimsim: %s: unknown gpu preset %s\n",
			calib->path, calib->preset);
		return -EINVAL;
	}
	if (mkdir(dir, 0755) && errno != EEXIST) {
		fprintf(stderr, "pimsim: %s: %s\n", dir, strerror(errno));
		return -errno;
	}
	build(&p);
	out = mmap(NULL, p.nr * sizeof(*out), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (out == MAP_FAILED) {
		free(p.job);
		return -ENOMEM;
	}
	memset(out, 0, p.nr * sizeof(*out));
	sim_print_table_header(stdout);
	ret = run_all(&p, out, jobs);
	if (!ret)
		ret = write_csv(&p, out);
	if (!ret)
		ret = write_main_dat(&p, out);
	if (!ret)
		ret = write_gantt(&p);
	if (!ret && calib)
		print_calib(&p, out);
	if (!ret) {
		gp = open_out(dir, "report.gp");
		ret = gp ? 0 : -EIO;
		if (gp) {
			fputs(report_gp, gp);
			fclose(gp);
		}
	}
	munmap(out, p.nr * sizeof(*out));
	free(p.job);
	return ret;
}
