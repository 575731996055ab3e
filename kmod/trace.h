/* SPDX-License-Identifier: GPL-2.0 */
/*
 * trace.h - tracepoints on command submit and completion, for every
 * transport (events pim:pim_submit and pim:pim_complete).
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM pim

#if !defined(PIM_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define PIM_TRACE_H

#include <linux/tracepoint.h>

TRACE_EVENT(pim_submit,
	    TP_PROTO(int dev, int xport, u8 opcode, u64 user_data),
	    TP_ARGS(dev, xport, opcode, user_data),
	    TP_STRUCT__entry(__field(int, dev)
			     __field(int, xport)
			     __field(u8, opcode)
			     __field(u64, user_data)),
	    TP_fast_assign(__entry->dev = dev;
			   __entry->xport = xport;
			   __entry->opcode = opcode;
			   __entry->user_data = user_data;),
	    TP_printk("pim%d xport=%d op=%u user_data=%#llx", __entry->dev,
		      __entry->xport, __entry->opcode, __entry->user_data)
);

TRACE_EVENT(pim_complete,
	    TP_PROTO(int dev, u8 opcode, u64 user_data, int res, u64 device_ns),
	    TP_ARGS(dev, opcode, user_data, res, device_ns),
	    TP_STRUCT__entry(__field(int, dev)
			     __field(u8, opcode)
			     __field(u64, user_data)
			     __field(int, res)
			     __field(u64, device_ns)),
	    TP_fast_assign(__entry->dev = dev;
			   __entry->opcode = opcode;
			   __entry->user_data = user_data;
			   __entry->res = res;
			   __entry->device_ns = device_ns;),
	    TP_printk("pim%d op=%u user_data=%#llx res=%d device_ns=%llu",
		      __entry->dev, __entry->opcode, __entry->user_data,
		      __entry->res, __entry->device_ns)
);

#endif /* PIM_TRACE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE trace
#include <trace/define_trace.h>
