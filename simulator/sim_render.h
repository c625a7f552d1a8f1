/*
 * sim_render: the token ids of a prompt, and upstream's render endpoints
 * (/v1/completions/render, /v1/chat/completions/render), which return them
 * without generating anything.
 *
 * Ids come from the dummy tokenizer (sim_tokenizer, FNV-1a-32 as upstream);
 * token-id prompts pass through verbatim. Chat messages with image, audio or
 * video parts also get upstream's synthetic multimodal "features". The
 * response dataset hashes the same ids. Pure; thread-safe.
 */
#ifndef PDSIM_SIM_RENDER_H
#define PDSIM_SIM_RENDER_H

#include "common/buf.h"
#include "simulator/sim_request.h"

#include <stdint.h>

/* The token ids of a parsed prompt: the tokens of its text (chat: all
 * messages flattened), or the ids it was given. Returns a malloc'd array
 * (free it; NULL when *n is 0). */
uint32_t *sim_render_prompt_ids(const struct sim_prompt *p, size_t *n);

/* The /v1/completions/render body for a parsed completions request:
 * [{"token_ids":[...]}, ...], one object per prompt. Returns 0 or -E2BIG. */
int sim_render_completions(struct buf *b, const struct sim_request *req);

/* The /v1/chat/completions/render body for a parsed chat request:
 * {"token_ids":[...]} plus, when a message has image_url, input_audio,
 * audio_url or video_url parts, "features":{"mm_hashes","mm_placeholders",
 * "kwargs_data"} keyed by modality (audio, image, video). Returns 0 or -E2BIG. */
int sim_render_chat(struct buf *b, const struct sim_request *req);

#endif
