// SPDX-License-Identifier: GPL-2.0 OR MIT
/* Results as a plain table, CSV rows and JSON objects. */
#include "sim.h"

void sim_print_table_header(FILE *f)
{
	fprintf(f, "%-12s %-9s %-13s %-11s %9s %9s %7s %6s %8s %8s %8s %5s %5s %5s %7s %7s %4s\n",
		"system", "model", "trace", "policy", "tok/s", "time_s",
		"batch", "peak", "tbt_ms", "p50_ms", "p99_ms", "gpu%",
		"pim%", "ovl%", "pimerr%", "gpuerr%", "rej");
}

void sim_print_table_row(FILE *f, const struct sim_result *r)
{
	fprintf(f, "%-12s %-9s %-13s %-11s %9.1f %9.1f %7.1f %6.0f %8.2f %8.2f %8.2f %5.1f %5.1f %5.1f %7.3f %7.3f %4u\n",
		r->system, r->model, r->trace, r->policy, r->throughput,
		r->time_s, r->batch_avg, r->batch_peak, r->tbt_mean * 1e3,
		r->tbt_p50 * 1e3, r->tbt_p99 * 1e3, r->gpu_busy * 100,
		r->pim_busy * 100, r->overlap * 100, r->pim_err_med * 100,
		r->gpu_err_med * 100, r->rejected);
}

#define CSV_FIELDS "system,model,trace,policy,requests,rejected,tokens,iterations,time_s,throughput_tok_s,batch_avg,batch_peak,tbt_mean_s,tbt_p50_s,tbt_p99_s,gpu_busy,pim_busy,overlap,pim_err_median,gpu_err_median,kv_capacity_bytes,kv_peak_bytes,wall_s"

void sim_print_csv_header(FILE *f)
{
	fprintf(f, "%s\n", CSV_FIELDS);
}

void sim_print_csv_row(FILE *f, const struct sim_result *r)
{
	fprintf(f, "%s,%s,%s,%s,%u,%u,%llu,%llu,%.6f,%.3f,%.3f,%.0f,%.6e,%.6e,%.6e,%.5f,%.5f,%.5f,%.6f,%.6f,%.0f,%.0f,%.3f\n",
		r->system, r->model, r->trace, r->policy, r->requests,
		r->rejected, (unsigned long long)r->tokens,
		(unsigned long long)r->iterations, r->time_s, r->throughput,
		r->batch_avg, r->batch_peak, r->tbt_mean, r->tbt_p50,
		r->tbt_p99, r->gpu_busy, r->pim_busy, r->overlap,
		r->pim_err_med, r->gpu_err_med, r->kv_capacity, r->kv_peak,
		r->wall_s);
}

void sim_print_json(FILE *f, const struct sim_result *r, bool last)
{
	fprintf(f, "  {\"system\": \"%s\", \"model\": \"%s\", \"trace\": \"%s\", \"policy\": \"%s\", "
		"\"requests\": %u, \"rejected\": %u, \"tokens\": %llu, \"iterations\": %llu, "
		"\"time_s\": %.6f, \"throughput_tok_s\": %.3f, \"batch_avg\": %.3f, \"batch_peak\": %.0f, "
		"\"tbt_mean_s\": %.6e, \"tbt_p50_s\": %.6e, \"tbt_p99_s\": %.6e, "
		"\"gpu_busy\": %.5f, \"pim_busy\": %.5f, \"overlap\": %.5f, "
		"\"pim_err_median\": %.6f, \"gpu_err_median\": %.6f, "
		"\"kv_capacity_bytes\": %.0f, \"kv_peak_bytes\": %.0f, \"wall_s\": %.3f}%s\n",
		r->system, r->model, r->trace, r->policy, r->requests,
		r->rejected, (unsigned long long)r->tokens,
		(unsigned long long)r->iterations, r->time_s, r->throughput,
		r->batch_avg, r->batch_peak, r->tbt_mean, r->tbt_p50,
		r->tbt_p99, r->gpu_busy, r->pim_busy, r->overlap,
		r->pim_err_med, r->gpu_err_med, r->kv_capacity, r->kv_peak,
		r->wall_s, last ? "" : ",");
}
