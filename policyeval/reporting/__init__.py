"""policyeval.reporting"""
