"""Golden for glmh's whole text-to-image pipeline: diffusers' GlmImagePipeline assembled from tiny
random upstream components (GlmImageForConditionalGeneration, T5EncoderModel, ByT5Tokenizer,
GlmImageTransformer2DModel, AutoencoderKL, FlowMatchEulerDiscreteScheduler, and a GlmImageProcessor
whose byte-level tokenizer uses GLM-4's pre-tokenizer), saved with save_pretrained in the upstream
layout, then run with fixed noise:
  - AR prior tokens through the pipeline's own generate_prior_tokens (do_sample=True is forced
    there; the AR's generation_config has top_k=1, which makes sampling greedy);
  - glyph embeddings through the pipeline's encode_prompt;
  - denoising with CFG, the DiT called per step on the UNSHIFTED integer timestep minus 1 and the
    scheduler's shifted sigmas for the Euler step (the pre-0.40 behaviour,
    docs/model.md#unshifted-timesteps: diffusers 0.42.1's own __call__ would condition on shifted
    timesteps);
  - de-normalisation with latents_mean/std, VAE decode, and the pipeline's 8-bit postprocess.
Writes golden/reference/pipeline_tiny/ and pipeline_tiny_io.safetensors (fp32 CPU).
Usage: /work/ref-venv/bin/python scripts/reference/make_pipeline_golden.py [OUT_DIR]
"""
import json
import os
import shutil
import sys

import diffusers
import numpy as np
import torch
import transformers
from diffusers import AutoencoderKL, FlowMatchEulerDiscreteScheduler, GlmImagePipeline, GlmImageTransformer2DModel
from diffusers.pipelines.glm_image.pipeline_glm_image import calculate_shift
from safetensors.torch import save_file
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers
from transformers import (ByT5Tokenizer, GlmImageConfig, GlmImageForConditionalGeneration, GlmImageProcessor,
                          PreTrainedTokenizerFast, T5Config, T5EncoderModel)
from transformers.models.glm_image.image_processing_pil_glm_image import GlmImageImageProcessorPil

GLM_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
             r"|\s*[\r\n]+|\s+(?!\S)|\s+")
SPECIALS = ["<|endoftext|>", "[MASK]", "[gMASK]", "[sMASK]", "<sop>", "<eop>", "<|system|>", "<|user|>",
            "<|assistant|>", "<|observation|>", "<|begin_of_image|>", "<|end_of_image|>", "<|begin_of_video|>",
            "<|end_of_video|>", "<|image|>", "<|video|>"]
CODEBOOK, VISION_VOCAB, FIRST_SPECIAL, FIRST_BYTE, VOCAB = 64, 80, 80, 96, 352
START, END, PLACEHOLDER = CODEBOOK, CODEBOOK + 1, FIRST_SPECIAL + SPECIALS.index("<|image|>")
TEMPLATE = ("{%- for message in messages -%}{%- for item in message['content'] -%}"
            "{%- if item['type'] == 'image' -%}<|dit_token_16384|><|image|><|dit_token_16385|>"
            "{%- elif item['type'] == 'text' -%}{{ item['text'] }}{%- endif -%}{%- endfor -%}{%- endfor -%}")
LATENTS_MEAN = [-0.2080078125, 1.875, -0.470703125, -1.265625, -1.421875, 0.77734375, -0.3671875, -0.9453125,
                0.318359375, 0.7734375, -0.1884765625, -0.022216796875, -0.220703125, -1.59375, -0.81640625,
                -0.255859375]
LATENTS_STD = [3.0625, 2.203125, 2.265625, 4.84375, 2.5, 3.9375, 2.203125, 3.03125, 2.1875, 2.046875, 2.71875,
               2.390625, 2.390625, 2.453125, 2.25, 2.15625]
RUN = dict(prompt='A shop sign that says "OPEN" and \u201cCafe\u201d', height=64, width=96, steps=3, guidance=1.5)


def bytes_to_unicode():
    """GPT-2's byte <-> printable-character table (the ByteLevel pre-tokenizer's alphabet)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("\u00a1"), ord("\u00ac") + 1)) + \
        list(range(ord("\u00ae"), ord("\u00ff") + 1))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


def make_processor():
    vocab = {ch: FIRST_BYTE + b for b, ch in bytes_to_unicode().items()}
    vocab.update({s: FIRST_SPECIAL + i for i, s in enumerate(SPECIALS)})
    vocab.update({"<|dit_token_16384|>": START, "<|dit_token_16385|>": END})
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(GLM_REGEX), behavior="isolated"),
                                                 pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False)
                            for s in SPECIALS + ["<|dit_token_16384|>", "<|dit_token_16385|>"]])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|dit_token_16384|>",
                                   eos_token="<|dit_token_16385|>", pad_token="<|dit_token_16385|>",
                                   extra_special_tokens={"image_token": "<|image|>", "grid_bos_token": "<sop>",
                                                         "grid_eos_token": "<eop>"})
    return GlmImageProcessor(image_processor=GlmImageImageProcessorPil(patch_size=16, temporal_patch_size=1,
                                                                        merge_size=1, image_mean=[0.5] * 3,
                                                                        image_std=[0.5] * 3),
                             tokenizer=fast, chat_template=TEMPLATE)


def randomize(module, scale):
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn_like(p) * scale)


def main(out_dir):
    torch.manual_seed(20261128)
    ar = GlmImageForConditionalGeneration(GlmImageConfig(
        text_config=dict(vocab_size=VOCAB, vision_vocab_size=VISION_VOCAB, hidden_size=64, intermediate_size=128,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, head_dim=16,
                         hidden_act="silu", rms_norm_eps=1e-5, attention_bias=True, max_position_embeddings=4096,
                         pad_token_id=FIRST_SPECIAL, eos_token_id=END,
                         rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "partial_rotary_factor": 0.5,
                                          "mrope_section": [2, 1, 1]}),
        vision_config=dict(depth=1, hidden_size=16, num_heads=2, intermediate_size=32, image_size=64, patch_size=16),
        vq_config=dict(embed_dim=8, num_embeddings=CODEBOOK, latent_channels=16),
        image_token_id=PLACEHOLDER, image_start_token_id=START, image_end_token_id=END)).eval()
    randomize(ar, 0.2)
    with torch.no_grad():
        ar.lm_head.weight[CODEBOOK:].zero_()  # greedy decoding stays on codebook ids
    ar.generation_config.do_sample = True     # as the real generation_config.json
    ar.generation_config.top_k = 1            # sampling with top-k 1 is greedy
    ar.generation_config.temperature = 1.0
    ar.generation_config.top_p = 1.0
    ar.generation_config.eos_token_id = END
    ar.generation_config.pad_token_id = FIRST_SPECIAL
    t5 = T5EncoderModel(T5Config(vocab_size=384, d_model=32, d_kv=8, d_ff=48, num_layers=2, num_heads=4,
                                 feed_forward_proj="gated-gelu", is_encoder_decoder=False)).eval()
    randomize(t5, 0.2)
    dit = GlmImageTransformer2DModel(patch_size=2, in_channels=16, out_channels=16, num_layers=2, attention_head_dim=8,
                                     num_attention_heads=3, text_embed_dim=32, time_embed_dim=16, condition_dim=8,
                                     prior_vq_quantizer_codebook_size=CODEBOOK).eval()
    randomize(dit, 0.2)
    vae = AutoencoderKL(in_channels=3, out_channels=3, latent_channels=16, down_block_types=["DownEncoderBlock2D"] * 4,
                        up_block_types=["UpDecoderBlock2D"] * 4, block_out_channels=[8, 16, 16, 16], layers_per_block=1,
                        norm_num_groups=4, use_quant_conv=False, use_post_quant_conv=False, mid_block_add_attention=False,
                        latents_mean=LATENTS_MEAN, latents_std=LATENTS_STD).eval()
    randomize(vae, 0.2)
    scheduler = FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, use_dynamic_shifting=True,
                                                time_shift_type="linear", base_shift=0.25, max_shift=0.75,
                                                base_image_seq_len=256, max_image_seq_len=4096)
    pipe = GlmImagePipeline(tokenizer=ByT5Tokenizer(), processor=make_processor(), text_encoder=t5,
                            vision_language_encoder=ar, vae=vae, transformer=dit, scheduler=scheduler)
    root = os.path.join(out_dir, "pipeline_tiny")
    shutil.rmtree(root, ignore_errors=True)
    pipe.save_pretrained(root, safe_serialization=True)

    h, w, steps, g = RUN["height"], RUN["width"], RUN["steps"], RUN["guidance"]
    with torch.no_grad():
        prior_token_id, _, _ = pipe.generate_prior_tokens(RUN["prompt"], h, w, device=torch.device("cpu"),
                                                          generator=torch.Generator().manual_seed(0))
        cond, uncond = pipe.encode_prompt(RUN["prompt"], do_classifier_free_guidance=True, max_sequence_length=2048,
                                          device=torch.device("cpu"), dtype=torch.float32)
        noise = torch.randn(1, 16, h // 8, w // 8, generator=torch.Generator().manual_seed(42))
        latents = noise.clone()
        seq_len = (h // 8) * (w // 8) // 4
        t_unshifted = np.linspace(1000, 1.0, steps + 1)[:-1].astype(np.int64).astype(np.float32)
        mu = calculate_shift(seq_len, 256, 0.25, 0.75)
        scheduler.set_timesteps(sigmas=t_unshifted / 1000.0, mu=mu)
        size = torch.tensor([[h, w]], dtype=torch.float32)
        crop = torch.zeros(1, 2)
        n = prior_token_id.shape[1]
        for i, t in enumerate(scheduler.timesteps):
            timestep = torch.tensor([t_unshifted[i] - 1.0])
            v_c = dit(hidden_states=latents, encoder_hidden_states=cond, prior_token_id=prior_token_id,
                      prior_token_drop=torch.zeros(1, n, dtype=torch.bool), timestep=timestep, target_size=size,
                      crop_coords=crop, return_dict=False)[0].float()
            v_u = dit(hidden_states=latents, encoder_hidden_states=uncond, prior_token_id=prior_token_id,
                      prior_token_drop=torch.ones(1, n, dtype=torch.bool), timestep=timestep, target_size=size,
                      crop_coords=crop, return_dict=False)[0].float()
            latents = scheduler.step(v_u + g * (v_c - v_u), t, latents, return_dict=False)[0]
        mean = torch.tensor(LATENTS_MEAN).view(1, 16, 1, 1)
        std = torch.tensor(LATENTS_STD).view(1, 16, 1, 1)
        decoded = vae.decode(latents * std + mean, return_dict=False)[0]
        image = pipe.image_processor.postprocess(decoded, output_type="np")  # [1, H, W, 3] in [0, 1]
        image_u8 = torch.from_numpy((image * 255).round().astype("uint8"))[0]

    io = dict(noise=noise, prior_token_id=prior_token_id, glyph_embeds=cond, glyph_embeds_uncond=uncond,
              sigmas=scheduler.sigmas.float(), dit_timesteps=torch.from_numpy(t_unshifted - 1.0), latents=latents,
              decoded=decoded, image=image_u8)
    save_file({k: v.contiguous() for k, v in io.items()}, os.path.join(out_dir, "pipeline_tiny_io.safetensors"),
              metadata={"producer": "scripts/reference/make_pipeline_golden.py", "diffusers": diffusers.__version__,
                        "transformers": transformers.__version__, "run": json.dumps(RUN)})
    print(f"wrote pipeline_tiny (diffusers {diffusers.__version__}, transformers {transformers.__version__}): "
          f"prior tokens {prior_token_id.shape[1]}, glyph tokens {cond.shape[1]}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", "golden", "reference"))
