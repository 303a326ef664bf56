"""The workflow's steps as plain functions: each Snakemake script unpacks its job and calls one."""
