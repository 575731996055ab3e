// SPDX-License-Identifier: GPL-2.0
/*
 * show.c - pimctl list, info, topology and stats.
 */
#include <inttypes.h>
#include <stdio.h>

#include "pimctl.h"

static const char *const feature_names[] = {
	"uring_cmd", "queues", "inflight_relayout", "host_relayout",
	"fp16", "bf16", "gqa", "raw", "unordered",
};

#define NFEATURES	(sizeof(feature_names) / sizeof(feature_names[0]))

static unsigned int nranks(const struct pim_geometry *g)
{
	return g->channels * g->dimms_per_channel * g->ranks_per_dimm;
}

static void json_geometry(struct json *j, const struct pim_geometry *g)
{
	json_obj(j, "geometry");
	json_u64(j, "channels", g->channels);
	json_u64(j, "dimms_per_channel", g->dimms_per_channel);
	json_u64(j, "ranks_per_dimm", g->ranks_per_dimm);
	json_u64(j, "chips_per_rank", g->chips_per_rank);
	json_u64(j, "bank_groups", g->bank_groups);
	json_u64(j, "banks_per_group", g->banks_per_group);
	json_u64(j, "row_bytes", g->row_bytes);
	json_u64(j, "ranksets", g->ranksets);
	json_u64(j, "rank_bytes", g->rank_bytes);
	json_u64(j, "ranks", nranks(g));
	json_end(j, '}');
}

static const char list_usage[] =
	"usage: pimctl [-j] list\n"
	"  One line per device: id, node, backing, capacity, free, ranks.\n";

int cmd_list(struct pimctl *pc, int argc, char **argv)
{
	struct pim_dev_stats st;
	struct pim_dev *dev;
	int ret = pimctl_no_options(pc, argc, argv, list_usage);

	if (ret)
		return ret;
	if (pc->json) {
		json_obj(&pc->j, NULL);
		json_str(&pc->j, "backend", pim_get_backend_name(pc->ctx));
		json_arr(&pc->j, "devices");
	} else {
		printf("%-6s %-12s %-7s %12s %12s %5s\n", "DEV", "NODE",
		       "BACKING", "CAPACITY", "FREE", "RANKS");
	}
	pim_dev_foreach(pc->ctx, dev) {
		const struct pim_geometry *g = pim_dev_get_geometry(dev);

		if (pim_dev_get_stats(dev, &st))
			st.free = 0;
		if (pc->json) {
			json_obj(&pc->j, NULL);
			json_str(&pc->j, "dev", pim_dev_get_devname(dev));
			json_u64(&pc->j, "id", pim_dev_get_id(dev));
			json_str(&pc->j, "devnode", pim_dev_get_devnode(dev));
			json_str(&pc->j, "backing", pim_dev_get_backing(dev));
			json_u64(&pc->j, "capacity",
				 pim_dev_get_capacity(dev));
			json_u64(&pc->j, "free", st.free);
			json_u64(&pc->j, "ranks", nranks(g));
			json_end(&pc->j, '}');
		} else {
			printf("%-6s %-12s %-7s %12" PRIu64 " %12" PRIu64
			       " %5u\n", pim_dev_get_devname(dev),
			       pim_dev_get_devnode(dev),
			       pim_dev_get_backing(dev),
			       pim_dev_get_capacity(dev), st.free, nranks(g));
		}
	}
	if (pc->json) {
		json_end(&pc->j, ']');
		json_end(&pc->j, '}');
	}
	return 0;
}

static const char info_usage[] =
	"usage: pimctl [-j] [-d N] info\n"
	"  The device's geometry, capacity, features and limits.\n";

int cmd_info(struct pimctl *pc, int argc, char **argv)
{
	const struct pim_geometry *g;
	struct pim_info info;
	unsigned int i;
	int ret = pimctl_no_options(pc, argc, argv, info_usage);

	if (ret)
		return ret;
	ret = pimctl_open_dev(pc);
	if (ret)
		return ret;
	g = pim_dev_get_geometry(pc->dev);
	ret = pim_dev_get_info(pc->dev, &info);
	if (ret)
		return pimctl_fail(pc, "GET_INFO", ret);
	if (pc->json) {
		json_obj(&pc->j, NULL);
		json_str(&pc->j, "dev", pim_dev_get_devname(pc->dev));
		json_str(&pc->j, "devnode", pim_dev_get_devnode(pc->dev));
		json_str(&pc->j, "backend", pim_get_backend_name(pc->ctx));
		json_str(&pc->j, "backing", pim_dev_get_backing(pc->dev));
		json_u64(&pc->j, "abi_version", info.abi_version);
		json_u64(&pc->j, "capacity", info.capacity);
		json_u64(&pc->j, "free", info.free);
		json_u64(&pc->j, "features", info.features);
		json_arr(&pc->j, "feature_names");
		for (i = 0; i < NFEATURES; i++)
			if (info.features & (1ULL << i))
				json_str(&pc->j, NULL, feature_names[i]);
		json_end(&pc->j, ']');
		json_geometry(&pc->j, g);
		json_u64(&pc->j, "max_queues", info.max_queues);
		json_u64(&pc->j, "max_queue_depth", info.max_queue_depth);
		json_u64(&pc->j, "max_attn_jobs", info.max_attn_jobs);
		json_end(&pc->j, '}');
		return 0;
	}
	printf("%s (%s backend, %s backing, ABI %u)\n",
	       pim_dev_get_devnode(pc->dev), pim_get_backend_name(pc->ctx),
	       pim_dev_get_backing(pc->dev), info.abi_version);
	printf("  capacity    %" PRIu64 " bytes, %" PRIu64 " free\n",
	       (uint64_t)info.capacity, (uint64_t)info.free);
	printf("  geometry    %u channels x %u DIMMs x %u ranks = %u ranks in %u ranksets\n",
	       g->channels, g->dimms_per_channel, g->ranks_per_dimm,
	       nranks(g), g->ranksets);
	printf("  rank        %u chips x %u bank groups x %u banks, %u-byte rows, %" PRIu64 " bytes\n",
	       g->chips_per_rank, g->bank_groups, g->banks_per_group,
	       g->row_bytes, (uint64_t)g->rank_bytes);
	printf("  features    0x%" PRIx64 ":", (uint64_t)info.features);
	for (i = 0; i < NFEATURES; i++)
		if (info.features & (1ULL << i))
			printf(" %s", feature_names[i]);
	printf("\n  limits      %u queues of depth %u, %u jobs per attention command\n",
	       info.max_queues, info.max_queue_depth, info.max_attn_jobs);
	return 0;
}

static const char topology_usage[] =
	"usage: pimctl [-j] [-d N] topology\n"
	"  Channels, DIMMs and ranks; rank r of every channel is rankset r.\n";

int cmd_topology(struct pimctl *pc, int argc, char **argv)
{
	const struct pim_geometry *g;
	unsigned int ch, dimm, rank, grank, rankset;
	int ret = pimctl_no_options(pc, argc, argv, topology_usage);

	if (ret)
		return ret;
	ret = pimctl_open_dev(pc);
	if (ret)
		return ret;
	g = pim_dev_get_geometry(pc->dev);
	if (pc->json) {
		json_obj(&pc->j, NULL);
		json_str(&pc->j, "dev", pim_dev_get_devname(pc->dev));
		json_geometry(&pc->j, g);
		json_arr(&pc->j, "ranks");
	} else {
		printf("%s: %u channels, %u ranksets, %u banks per chip\n",
		       pim_dev_get_devname(pc->dev), g->channels, g->ranksets,
		       g->bank_groups * g->banks_per_group);
	}
	/* Global rank order: channel-major, as the device model numbers it. */
	for (ch = 0, grank = 0; ch < g->channels; ch++) {
		if (!pc->json)
			printf("  channel %u\n", ch);
		for (dimm = 0; dimm < g->dimms_per_channel; dimm++) {
			if (!pc->json)
				printf("    dimm %u\n", dimm);
			for (rank = 0; rank < g->ranks_per_dimm;
			     rank++, grank++) {
				rankset = dimm * g->ranks_per_dimm + rank;
				if (!pc->json) {
					printf("      rank %u: global rank %u, rankset %u\n",
					       rank, grank, rankset);
					continue;
				}
				json_obj(&pc->j, NULL);
				json_u64(&pc->j, "rank", grank);
				json_u64(&pc->j, "channel", ch);
				json_u64(&pc->j, "dimm", dimm);
				json_u64(&pc->j, "rank_in_dimm", rank);
				json_u64(&pc->j, "rankset", rankset);
				json_end(&pc->j, '}');
			}
		}
	}
	if (pc->json) {
		json_end(&pc->j, ']');
		json_end(&pc->j, '}');
	}
	return 0;
}

static const char stats_usage[] =
	"usage: pimctl [-j] [-d N] stats\n"
	"  Commands run, bytes moved and modeled device time since load.\n";

int cmd_stats(struct pimctl *pc, int argc, char **argv)
{
	struct pim_dev_stats st;
	int ret = pimctl_no_options(pc, argc, argv, stats_usage);

	if (ret)
		return ret;
	ret = pimctl_open_dev(pc);
	if (ret)
		return ret;
	ret = pim_dev_get_stats(pc->dev, &st);
	if (ret)
		return pimctl_fail(pc, "reading counters", ret);
	if (pc->json) {
		json_obj(&pc->j, NULL);
		json_str(&pc->j, "dev", pim_dev_get_devname(pc->dev));
		json_u64(&pc->j, "capacity", st.capacity);
		json_u64(&pc->j, "free", st.free);
		json_u64(&pc->j, "commands", st.commands);
		json_u64(&pc->j, "bytes_in", st.bytes_in);
		json_u64(&pc->j, "bytes_out", st.bytes_out);
		json_u64(&pc->j, "device_ns", st.device_ns);
		json_end(&pc->j, '}');
		return 0;
	}
	printf("%s\n", pim_dev_get_devname(pc->dev));
	printf("  capacity   %" PRIu64 " bytes, %" PRIu64 " free\n",
	       st.capacity, st.free);
	printf("  commands   %" PRIu64 "\n", st.commands);
	printf("  bytes in   %" PRIu64 "\n", st.bytes_in);
	printf("  bytes out  %" PRIu64 "\n", st.bytes_out);
	printf("  device     %.6f s modeled\n", st.device_ns / 1e9);
	return 0;
}
