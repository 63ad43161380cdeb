# Sourced by bench/run.sh and bench/pairs.sh: which full-size model the benchmark runs on, from
# BENCH_MODEL_TYPE. Sets WORK (its work directory), MAKE_MODEL_OPTIONS (tools/make_random_model.py)
# and TOKENIZER (the tokenizer.json the peers tokenize with: truncation and padding set as
# sentence-transformers feeds the model).
#   roberta (default): jhgan/ko-sroberta-multitask's shape, klue vocabulary, in bench/work.
#   mpnet: sentence-transformers/all-mpnet-base-v2's shape (MPNet 12 x 768, relative-position
#          bias, mpnet-style vocabulary, mean pooling and Normalize) in bench/work-mpnet, with
#          max_seq_length 128 like the RoBERTa model, so that the workloads are the same texts
#          cut at the same length; run.sh writes its TOKENIZER from the model's tokenizer.json.
case ${BENCH_MODEL_TYPE:-roberta} in
    roberta)
        WORK=bench/work
        MAKE_MODEL_OPTIONS=""
        TOKENIZER=tests/data/tokenizers/klue-roberta-base/tokenizer.json ;;
    mpnet)
        WORK=bench/work-mpnet
        MAKE_MODEL_OPTIONS="--model-type mpnet --max-seq-length 128"
        TOKENIZER=$WORK/tokenizer.json ;;
    *)
        echo "BENCH_MODEL_TYPE=${BENCH_MODEL_TYPE}: expected roberta or mpnet" >&2
        exit 2 ;;
esac
