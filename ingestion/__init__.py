"""Ingestion: documents on disk into a search index, for every index the same way.

- `ingestion.sources`: which files (the folder walk, binary refusal), how a file is named as a source,
  its content hash and chunk ids, and the bundled sample corpus (`CORPUS_DIR`).
- `ingestion.chunking`: Markdown (read with markdown-it-py), text and HTML into heading-aware chunks,
  packed to a size budget, and chunk text into sentences and table rows.
- `ingestion.formats`: PDF, DOCX, PPTX, XLSX and CSV into the same chunks, one small module per format
  (paginated ones chunked page by page, `Chunk.page` set); a file it cannot read raises
  `UnreadableDocument`, which the loop reports by name and goes on.
- `ingestion.ingest`: the one ingestion loop (`index_paths`) and the `IndexWriter` interface it writes
  through: the local SQLite index (`providers.local.sqlite_index.SqliteIndex`) and Azure AI Search
  (`providers.azure.search_index.AzureSearchIndexer`) both implement it.

Importing the package imports nothing: `ingestion.chunking` is also read by the local answerer.
"""
