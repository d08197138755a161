"""Workbooks and CSV files for officials: contacts, hotline reports, the daily situation report."""
