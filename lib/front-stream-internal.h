/*
 * What front-stream.c (lifecycle, Response objects, the end) and
 * front-stream-items.c (output items, upstream events) share. Not for
 * other modules: they use front-stream.h.
 */
#ifndef AGENTD_FRONT_STREAM_INTERNAL_H
#define AGENTD_FRONT_STREAM_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "front-stream.h"

enum fs_kind {
	FS_MESSAGE,		/* an assistant message, one output_text part */
	FS_OTHER		/* any other item type, forwarded (OpenAI) */
};

/* One output item at agentd's output_index (its place in items[]). */
struct fs_item {
	enum fs_kind	 kind;
	int		 open;		/* added sent, done not yet */
	int		 part_done;	/* message: text and part done sent;
					   function_call: arguments done */
	int64_t		 step;		/* upstream response it came from */
	int64_t		 up_index;	/* upstream output_index, -1 none */
	char		*up_id;		/* upstream item id, NULL none */
	char		*id;		/* agentd's item id */
	char		*text;		/* message text or call arguments */
	size_t		 len;
	size_t		 cap;
	json_t		*item;		/* FS_OTHER: the added item, then the
					   final one (id replaced) */
	const char	*status;	/* FS_MESSAGE once closed (static) */
};

struct fs_usage {
	int		 known;
	int64_t		 input;
	int64_t		 cached;
	int64_t		 output;
	int64_t		 reasoning;
	int64_t		 total;
};

struct front_stream {
	front_emit_cb		 cb;
	void			*arg;
	char			*resp_id;	/* "resp_" + run id */
	char			*idpart;	/* run id without "r_" */
	int64_t			 created_at;
	int			 background;
	enum backend_dialect	 dialect;
	json_t			*base;		/* request fields echoed */

	int64_t			 next_seq;
	int64_t			 last_up_seq;	/* -1: none fed yet */
	int64_t			 step;		/* upstream responses seen */
	int			 begun;
	int			 ended;
	int			 response_fed;
	int			 no_fast;	/* deltas through jansson */

	struct fs_item		*items;
	size_t			 nitems;
	size_t			 cap;

	struct fs_usage		 usage;		/* from streamed events */
	struct fs_usage		 resp_usage;	/* from the final body */
	char			*up_error;	/* last upstream error text */

	/* Set by front_stream_end. */
	const char		*end_status;	/* Response.status */
	char			*end_error;
	json_t			*incomplete;	/* incomplete_details */
	int64_t			 completed_at;
};

/* front-stream.c */
json_t	*front_jstr(const char *s);
json_t	*front_jstrn(const char *s, size_t len);
json_t	*front_event_new(struct front_stream *fs, const char *type);
void	 front_emit(struct front_stream *fs, json_t *ev);
void	 front_usage_read(json_t *resp, struct fs_usage *u, int add);
void	 front_note_error(struct front_stream *fs, json_t *o);

/* front-stream-items.c */
void	 front_items_free(struct front_stream *fs);
json_t	*front_item_json(const struct front_stream *fs,
	    const struct fs_item *it);
void	 front_close_open(struct front_stream *fs, const char *status);
size_t	 front_synth_output(struct front_stream *fs, json_t *resp);
void	 front_synth_text(struct front_stream *fs, const char *text,
	    const char *status);
void	 front_upstream(struct front_stream *fs, const char *type, json_t *o);
void	 front_fast_delta(struct front_stream *fs, const char *id,
	    int64_t index, const char *s, size_t n);
int	 front_item_part_done(struct front_stream *fs, const char *up,
	    int64_t index);

/* front-stream-fast.c */
int	 front_fast_event(struct front_stream *fs, const char *type,
	    const char *data, size_t len);
json_t	*front_fast_end_response(const char *json, size_t len);

#endif
